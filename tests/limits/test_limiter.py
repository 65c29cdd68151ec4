"""The limiter alone: admission from the counter book, refusals naming the limit, soft alerts once
per window, the estimate of calls not yet recorded, the runaway guard."""

from __future__ import annotations

import pytest

from nexus.errors import ConfigError, LimitExceeded, ModelNotAllowed
from nexus.limits.buckets import bounds
from nexus.limits.counters import CounterBook, CounterRow
from nexus.limits.limiter import Limiter
from nexus.limits.policy import Limits, Runaway, parse_policy
from nexus.limits.runaway import repeated_tool_call
from nexus.limits.subject import CallFacts, Scope, Subject
from nexus.limits.tally import tally
from tests.factories import make_record

NOW = 1_764_000_030_000  # 30 s into a minute


def _subject(limits: Limits, runaway: Runaway | None = None) -> Subject:
    return Subject((Scope("client:alice@h", "client alice@h", limits),), 0.8, runaway, "h")


def _limiter(book: CounterBook | None = None, alerts: list | None = None) -> Limiter:
    sink = alerts.append if alerts is not None else (lambda alert: None)
    return Limiter(book or CounterBook("me"), alert=sink, clock=lambda: NOW)


def test_requests_per_minute_admits_exactly_the_limit_and_says_when_it_resets() -> None:
    limiter = _limiter()
    subject = _subject(Limits(requests_per_minute=3))
    for _ in range(3):
        assert limiter.admit(subject, CallFacts()) == ("client:alice@h",)
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(subject, CallFacts())
    assert refused.value.status == 429 and refused.value.error_type == "rate_limit_error"
    assert "requests per minute for client alice@h (3 of 3)" in refused.value.message
    assert "resets at 2025-11-24T16:01:00Z" in refused.value.message
    assert ("retry-after", "30") in refused.value.headers
    assert ("x-should-retry", "false") not in refused.value.headers


def test_other_replicas_recorded_requests_count_and_own_are_not_counted_twice() -> None:
    book = CounterBook("me")
    start, end = bounds("minute", NOW)
    limiter = _limiter(book)
    subject = _subject(Limits(requests_per_minute=4))
    limiter.admit(subject, CallFacts())  # admitted here, then recorded: the "me" row below
    book.apply([
        CounterRow("client:alice@h", "minute", start, end, "other", 2, 0, 0, NOW),
        CounterRow("client:alice@h", "minute", start, end, "me", 1, 0, 0, NOW),
    ])  # fmt: skip
    limiter.admit(subject, CallFacts())  # 1 here + 2 elsewhere = 3 < 4
    with pytest.raises(LimitExceeded):
        limiter.admit(subject, CallFacts())


def test_a_day_budget_counts_unrecorded_calls_at_the_average_and_refuses_for_the_day() -> None:
    book = CounterBook("me")
    start, end = bounds("day", NOW)
    limiter = _limiter(book)
    subject = _subject(Limits(usd_per_day=5.0))
    for _ in range(4):
        limiter.admit(subject, CallFacts())
    # two of the four are recorded at $1 each: the other two are estimated at $1 too → $4
    book.apply([CounterRow("client:alice@h", "day", start, end, "me", 2, 10, 2_000_000, NOW)])
    limiter.admit(subject, CallFacts())  # $4 < $5
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(subject, CallFacts())  # $5 estimated
    assert "dollars per day" in refused.value.message and "$5.00 of $5.00" in refused.value.message
    assert ("x-should-retry", "false") in refused.value.headers


def test_soft_limit_alerts_once_per_window_without_refusing() -> None:
    alerts: list = []
    limiter = _limiter(alerts=alerts)
    subject = _subject(Limits(requests_per_minute=10))
    for _ in range(9):
        limiter.admit(subject, CallFacts())
    assert [a.kind for a in alerts] == ["soft_limit"]  # at 8 of 10, once
    assert "8 of its 10 requests per minute" in alerts[0].message


def test_a_model_outside_the_policy_is_refused_with_403() -> None:
    limiter = _limiter()
    subject = _subject(Limits(models=("claude-sonnet-*",)))
    limiter.admit(subject, CallFacts(model="claude-sonnet-4-5"))
    with pytest.raises(ModelNotAllowed) as refused:
        limiter.admit(subject, CallFacts(model="claude-opus-4-8"))
    assert refused.value.status == 403 and "claude-opus-4-8 is not allowed" in refused.value.message


def test_runaway_repeats_refuse_only_when_the_policy_says_so() -> None:
    alerts: list = []
    looping = CallFacts(session_id="s1", repeated_tool="Bash", repeats=5)
    flag_only = _subject(Limits(), Runaway(repeats=5))
    _limiter(alerts=alerts).admit(flag_only, looping)
    assert [a.kind for a in alerts] == ["runaway"]
    refuse = _subject(Limits(), Runaway(repeats=5, refuse=True))
    with pytest.raises(LimitExceeded, match="called Bash with the same input 5 times in a row"):
        _limiter().admit(refuse, looping)


def test_runaway_spend_in_minutes_reads_the_sessions_minute_rows() -> None:
    book = CounterBook("me")
    start, end = bounds("minute", NOW - 60_000)
    book.apply([CounterRow("session:s1", "minute", start, end, "other", 3, 0, 6_000_000, NOW)])
    subject = _subject(Limits(), Runaway(usd=5.0, minutes=10, refuse=True))
    with pytest.raises(LimitExceeded, match=r"spent \$6.00 in 10 minutes"):
        _limiter(book).admit(subject, CallFacts(session_id="s1"))
    assert _limiter(book).admit(subject, CallFacts(session_id="s2")) == (
        "client:alice@h",
        "session:s2",
    )


def _tool_turn(command: str) -> list[dict]:
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": command}}
            ],
        },  # fmt: skip
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
    ]


def test_repeated_tool_call_counts_identical_calls_at_the_tail_only() -> None:
    import orjson
    import simdjson

    messages = [{"role": "user", "content": "fix it"}, *_tool_turn("ls"), *_tool_turn("make"),
                *_tool_turn("make"), *_tool_turn("make")]  # fmt: skip
    doc = simdjson.Parser().parse(orjson.dumps({"messages": messages}))
    assert repeated_tool_call(doc["messages"], 10) == ("Bash", 3)
    assert repeated_tool_call(doc["messages"], 2) == ("Bash", 2)
    typed = [*messages, {"role": "user", "content": "stop that"}]
    doc = simdjson.Parser().parse(orjson.dumps({"messages": typed}))
    assert repeated_tool_call(doc["messages"], 10) == (None, 0)


@pytest.mark.parametrize(
    "messages",
    [
        {"a": 1},
        "hello",
        [1, "two", None, [3], 4.5, True],
        [{"role": "assistant"}, {"role": "user", "content": {"type": "tool_result"}}],
        [{"role": "assistant", "content": 5}, {"role": "user", "content": [7]}],
        [
            {"role": "assistant", "content": [{"type": "tool_use"}]},
            {"role": "user", "content": [{"type": "tool_result"}]},
        ],
        [{"role": 1, "content": []}, {"role": "user", "content": [{"type": "tool_result"}]}],
    ],
)
def test_repeated_tool_call_reads_a_malformed_tail_as_no_loop_without_raising(messages) -> None:
    import orjson
    import simdjson

    doc = simdjson.Parser().parse(orjson.dumps({"messages": messages}))
    tool, repeats = repeated_tool_call(doc["messages"], 5)
    assert repeats <= 1 and (tool is None) == (repeats == 0)


class _Walked(list):
    """A simdjson array's cost: a look-up by index walks the array from its start."""

    steps = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        _Walked.steps += index + 1
        return super().__getitem__(index)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for item in super().__iter__():
            _Walked.steps += 1
            yield item


def _tail_read(messages: list[dict], cap: int) -> tuple[tuple[str | None, int], int]:
    import orjson
    import simdjson

    doc = simdjson.Parser().parse(orjson.dumps({"messages": messages}))
    walked = _Walked(doc["messages"])
    _Walked.steps = 0
    return repeated_tool_call(walked, cap), _Walked.steps


def test_repeated_tool_call_reads_a_long_tail_in_one_pass_not_a_walk_per_turn() -> None:
    # A 1.6 MB body of 20 000 tool-result turns held the proxy's event loop for half a second:
    # each turn was looked up by index, and simdjson walks the array from its start for each.
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    filler = [{"role": "user", "content": "go"}] + [result] * 20_000
    most = 20 * len(filler)  # 16 look-ups by index at most, then one pass; was length² / 2
    (tool, repeats), steps = _tail_read(filler + _tool_turn("make") * 3, 5)
    assert (tool, repeats) == ("Bash", 3) and steps < most
    # many user turns between two calls: no loop
    (tool, repeats), steps = _tail_read(_tool_turn("make") + filler + _tool_turn("make"), 5)
    assert (tool, repeats) == ("Bash", 1) and steps < most
    # a streak as long as the policy allows, behind the filler: one pass reads it
    (tool, repeats), steps = _tail_read(filler + _tool_turn("make") * 100, 100)
    assert (tool, repeats) == ("Bash", 100) and steps < most


def test_repeated_tool_call_reads_a_turn_of_many_blocks_in_one_pass() -> None:
    # A 2 MB body whose last turn held 40 000 tool results held the event loop for 1.2 s: each
    # block was looked up by index from the end, and a look-up walks the array from its start.
    def turn(role: str, blocks: list[dict]) -> dict:
        return {b"role": role, b"content": _Walked(blocks)}

    call = {b"type": "tool_use", b"name": "Bash", b"input": "make"}
    results = [{b"type": "tool_result"}] * 20_000
    messages = [turn("assistant", [call]), turn("user", results)] * 2
    _Walked.steps = 0
    assert repeated_tool_call(messages, 5) == ("Bash", 2)
    assert _Walked.steps < 3 * 2 * len(results)  # was about len(results) ** 2 / 2 per turn
    typed = [*messages[:-1], turn("user", [*results, {b"type": "text"}])]
    assert repeated_tool_call(typed, 5) == (None, 0)


@pytest.mark.parametrize(("streak", "cap"), [(3, 50), (20, 20), (30, 25), (40, 100)])
def test_repeated_tool_call_counts_a_long_streak_across_the_one_pass(streak, cap) -> None:
    messages = [{"role": "user", "content": "fix it"}, *_tool_turn("ls")]
    messages += _tool_turn("make") * streak
    (tool, repeats), _ = _tail_read(messages, cap)
    assert (tool, repeats) == ("Bash", min(streak, cap))


def test_tally_counts_admitted_calls_in_every_window_and_skips_refused_ones() -> None:
    counted = make_record(limit_scopes=("client:alice@h",), cost_usd_micros=1500)
    refused = make_record()
    rows = tally([counted, refused], "me")
    assert sorted(r.kind for r in rows) == ["day", "hour", "minute", "month"]
    assert all(r.requests == 1 and r.cost_usd_micros == 1500 for r in rows)


def test_policy_errors_name_the_field_and_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"policy in f: clients.bob: unknown field 'rpm'"):
        parse_policy({"clients": {"bob": {"rpm": 3}}}, "f")
    with pytest.raises(ConfigError, match="runaway: repeats must be 2 to 100"):
        parse_policy({"runaway": {"repeats": 1}}, "f")
    with pytest.raises(ConfigError, match="runaway: repeats must be 2 to 100"):
        parse_policy({"runaway": {"repeats": 101}}, "f")
    policy = parse_policy(
        {
            "client": {"usd_per_day": 5, "models": ["claude-*"]},
            "clients": {"a": {"usd_per_day": 9}},
        },
        "f",
    )
    assert policy.for_client("a") == Limits(usd_per_day=9.0, models=("claude-*",))
    assert policy.for_client("b") == Limits(usd_per_day=5.0, models=("claude-*",))


def test_admissions_count_in_every_window_across_a_minute_boundary() -> None:
    from nexus.limits.counters import REQUESTS

    book = CounterBook("me")
    scopes = ("client:alice@h", "session:s1")
    for _ in range(3):
        book.admit(scopes, NOW)
    later = NOW + 60_000  # the next minute, same hour
    for _ in range(2):
        book.admit(scopes, later)
    hour = bounds("hour", later)[0]
    assert book.used("client:alice@h", "hour", hour, REQUESTS) == 5
    assert book.used("client:alice@h", "minute", bounds("minute", later)[0], REQUESTS) == 2
    assert book.used("client:alice@h", "minute", bounds("minute", NOW)[0], REQUESTS) == 3
    assert book.used("session:s1", "minute", bounds("minute", later)[0], REQUESTS) == 2
    assert book.used("session:s1", "hour", hour, REQUESTS) == 0  # sessions count per minute only
    book.admit(scopes, NOW + 3_600_000)  # a new hour: the old one's admissions stay in it
    assert book.used("client:alice@h", "hour", hour, REQUESTS) == 5
    assert book.used("client:alice@h", "hour", bounds("hour", NOW + 3_600_000)[0], REQUESTS) == 1


def _rows(calls: int) -> list[CounterRow]:
    """What the feed reports once ``calls`` calls are recorded, at 11 tokens and $0.30 each."""
    return [
        CounterRow("client:alice@h", kind, *bounds(kind, NOW), "me", calls, 11 * calls,
                   300_000 * calls, NOW)
        for kind in ("minute", "hour", "day", "month")
    ]  # fmt: skip


def _outcome(limiter: Limiter, subject: Subject) -> str:
    try:
        limiter.admit(subject, CallFacts())
    except LimitExceeded as exc:
        return exc.message.split(" for ")[0]
    return "ok"


@pytest.mark.parametrize("limits", [
    Limits(requests_per_minute=57, usd_per_day=40.0),
    Limits(usd_per_day=23.0, tokens_per_hour=700),
    Limits(requests_per_minute=1000, usd_per_month=9.5),
])  # fmt: skip
def test_far_from_limit_calls_skip_the_checks_yet_alerts_and_refusals_come_on_the_same_call(
    limits: Limits,
) -> None:
    """The headroom kept per scope must not move a soft alert or a refusal by a single call: the
    oracle is a limiter that keeps none (a new one per call, over a twin book)."""
    book, twin = CounterBook("me"), CounterBook("me")
    alerts: list = []
    limiter = _limiter(book, alerts)
    subject = _subject(limits)
    got, want, got_alert, want_alert = [], [], [], []
    for n in range(200):
        if n % 37 == 1:  # the feed reports some of the admitted calls now and then
            book.apply(_rows(n // 2))
            twin.apply(_rows(n // 2))
        before = len(alerts)
        got.append(_outcome(limiter, subject))
        got_alert.append(len(alerts) > before)
        fresh: list = []
        want.append(_outcome(_limiter(twin, fresh), subject))
        want_alert.append(bool(fresh))
    assert got == want
    assert "ok" in got and got[-1] != "ok"  # both sides of a limit were reached
    assert got_alert.index(True) == want_alert.index(True)  # the soft alert on the same call


def test_a_feed_update_redoes_the_headroom_in_the_feed_not_in_the_next_call(monkeypatch) -> None:
    """The counter feed's rows move a scope's sums: the headroom is worked out again as they are
    applied (the feed's task), so the calls that follow read no window."""
    book = CounterBook("me")
    limiter = _limiter(book)
    subject = _subject(Limits(requests_per_minute=1000, usd_per_day=40.0))
    limiter.admit(subject, CallFacts())  # the first call works the headroom out
    book.apply(_rows(1))  # the feed reports it
    reads: list[str] = []
    real = CounterBook.used
    monkeypatch.setattr(CounterBook, "used", lambda *a: reads.append(a[1]) or real(*a))
    for _ in range(5):
        limiter.admit(subject, CallFacts())
    assert reads == []
    book.apply(_rows(4))  # while the feed applies rows, the limiter reads the windows
    assert "client:alice@h" in reads


def test_a_sessions_kept_spend_refuses_once_the_feed_reports_it_and_frees_it_as_time_passes() -> (
    None
):
    book = CounterBook("me")
    now = [NOW]
    limiter = Limiter(book, alert=lambda alert: None, clock=lambda: now[0])
    subject = _subject(Limits(), Runaway(usd=5.0, minutes=10, refuse=True))
    facts = CallFacts(session_id="s1")
    limiter.admit(subject, facts)  # nothing spent yet: the session's figure is kept
    start, end = bounds("minute", NOW)
    book.apply([CounterRow("session:s1", "minute", start, end, "me", 2, 0, 6_000_000, NOW)])
    with pytest.raises(LimitExceeded, match=r"spent \$6.00 in 10 minutes"):
        limiter.admit(subject, facts)
    now[0] = end + 10 * 60_000  # that minute is more than 10 minutes ago: no row changed
    assert limiter.admit(subject, facts) == ("client:alice@h", "session:s1")


@pytest.mark.parametrize("last", [
    {"role": "user", "content": 5},
    {"role": "user", "content": ["x", {"type": "tool_result"}]},
    {"role": "user", "content": {"type": "tool_result"}},
    {"role": "user", "content": []},
    {"role": "user", "content": [{"type": "text", "text": "stop"}, {"type": "tool_result"}]},
    {"content": [{"type": "tool_result"}]},
    "not a message",
])  # fmt: skip
def test_a_last_message_that_is_not_only_tool_results_is_no_loop_whatever_its_shape(last) -> None:
    import orjson
    import simdjson

    messages = [{"role": "user", "content": "go"}, *_tool_turn("make"), *_tool_turn("make")]
    messages[-1] = last
    doc = simdjson.Parser().parse(orjson.dumps({"messages": messages}))
    assert repeated_tool_call(doc["messages"], 10) == (None, 0)
    assert repeated_tool_call(messages, 10) == (None, 0)


def test_a_failing_headroom_refresh_loses_no_rows_and_the_next_call_checks_in_full(
    monkeypatch,
) -> None:
    book = CounterBook("me")
    limiter = _limiter(book)
    subject = _subject(Limits(usd_per_day=3.0))
    limiter.admit(subject, CallFacts())  # headroom kept for the far-from-limit scope

    def broken(scopes: set[str]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(limiter, "refresh", broken)
    book.on_change = limiter.refresh
    book.apply(_rows(10))  # $3.00 recorded: the day's budget is spent
    with pytest.raises(LimitExceeded, match="dollars per day"):
        limiter.admit(subject, CallFacts())


def test_kept_headroom_does_not_outlive_its_minute() -> None:
    """A new minute folds the minute's admissions into the hour and day: a headroom counted in
    the old minute's admissions would let the same calls through again (oracle: no headroom)."""
    book, twin = CounterBook("me"), CounterBook("me")
    now = [NOW]
    alerts: list = []
    limiter = Limiter(book, alert=alerts.append, clock=lambda: now[0])
    subject = _subject(Limits(usd_per_day=6.0))
    for b in (book, twin):
        b.apply(_rows(4))  # $1.20 recorded over 4 calls: later calls estimated at $0.30 each
    got, want = [], []
    for _ in range(30):
        got.append(_outcome(limiter, subject))
        oracle = Limiter(twin, alert=lambda alert: None, clock=lambda: now[0])
        want.append(_outcome(oracle, subject))
        now[0] += 20_000  # three calls a minute, no feed update
    assert got == want
    assert "ok" in got and got[-1] != "ok"
