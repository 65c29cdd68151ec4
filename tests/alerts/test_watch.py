"""The recorder's detectors on constructed records: error spikes, window thresholds and
forecasts, and per-turn messages (opt-in), with what each alert says."""

from __future__ import annotations

from typing import Any

import orjson

from nexus.alerts import Alert, AlertKind, AlertQueue
from nexus.alerts.config import AlertConfig, HostAlerts
from nexus.alerts.watch import RecordWatch
from nexus.records import Link, Outcome, TrafficClass, Usage
from tests.factories import make_record

T0 = 1_800_000_000_000
M = 60_000
H = 60 * M
RESET_S = (T0 + 4 * H) // 1000  # the 5-hour period began at T0 - 1 h
HOST = "team.example"


def _watch(**config: Any) -> tuple[RecordWatch, AlertQueue]:
    queue = AlertQueue()
    clock = config.pop("clock", lambda: T0)
    return RecordWatch(AlertConfig(**config), queue, clock=clock), queue


def _kinds(alerts: list[Alert]) -> list[AlertKind]:
    return [a.kind for a in alerts]


def test_an_upstream_error_spike_alerts_once_and_nexus_refusals_do_not_count() -> None:
    watch, queue = _watch(error_spike_count=3, error_spike_window_s=60)
    ok = make_record(started_at_ms=T0, host=HOST)
    refused = [
        make_record(started_at_ms=T0 + i, host=HOST, status=429, outcome=Outcome.REJECTED)
        for i in range(5)
    ]
    watch.observe([ok, *refused])
    assert queue.drain() == []
    errors = [
        make_record(started_at_ms=T0 + 1000, host=HOST, status=529),
        make_record(started_at_ms=T0 + 2000, host=HOST, status=None,
                    outcome=Outcome.UPSTREAM_TIMEOUT, error="upstream timed out"),
        make_record(started_at_ms=T0 + 90_000, host=HOST, status=500),  # outside the 60 s
        make_record(started_at_ms=T0 + 91_000, host=HOST, status=503),
        make_record(started_at_ms=T0 + 92_000, host=HOST, status=500),
    ]  # fmt: skip
    watch.observe(errors)
    [alert] = queue.drain()
    assert alert.kind is AlertKind.UPSTREAM_ERRORS and alert.host == HOST
    assert alert.message == "3 upstream errors in the last 60 s"
    assert dict(alert.fields)["latest"] == "HTTP 500"


def _reading(at_ms: int, used: float) -> Any:
    return make_record(
        started_at_ms=at_ms, ttfb_ms=0, host=HOST, account_id="acct-team",
        ratelimit=(
            ("anthropic-ratelimit-unified-5h-utilization", str(used)),
            ("anthropic-ratelimit-unified-5h-reset", str(RESET_S)),
        ),
    )  # fmt: skip


def test_thresholds_alert_once_per_period_and_a_runout_is_forecast() -> None:
    now = [T0]
    watch, queue = _watch(forecast_thresholds=(0.8, 0.95), clock=lambda: now[0])
    # 30 % an hour after the period began (T0 - 1 h): 30 %/h, full before the reset at T0 + 4 h,
    # but a run-out is only told from 50 % on.
    watch.observe([_reading(T0 - 10 * M, 0.05), _reading(T0, 0.30)])
    assert queue.drain() == []
    now[0] = T0 + 50 * M
    watch.observe([_reading(T0 + 50 * M, 0.55)])
    [runout] = queue.drain()
    assert runout.kind is AlertKind.WINDOW_FORECAST and runout.subject == "acct-team"
    assert runout.message == "the 5h window of acct-team will be full before it resets"
    fields = dict(runout.fields)
    # From the reading an hour back (T0 - 10 m, 5 %): 50 % in 60 minutes; 45 % left: 54 minutes.
    assert fields["utilization"] == "55%" and fields["burn rate"] == "50.0% per hour"
    assert fields["full at this rate"] == "2027-01-15 09:44 UTC"  # T0 + 50 m + 54 m
    now[0] = T0 + 80 * M
    watch.observe([_reading(T0 + 70 * M, 0.79), _reading(T0 + 80 * M, 0.96)])
    [crossed] = queue.drain()  # one alert for a jump over 80 % and 95 %
    assert crossed.message == "the 5h window of acct-team reached 96%"
    assert crossed.dedup_key == f"window:acct-team:5h:{RESET_S * 1000}:95%"
    watch.observe([_reading(T0 + 85 * M, 0.97)])
    assert queue.drain() == []  # the same period: nothing new to say


def _turn_record(at: int, *, stop: str, content: list[dict[str, Any]], **extra: Any) -> Any:
    return make_record(
        started_at_ms=at, host=HOST, session_id="sess-1", client_key_id="alice",
        stop_reason=stop, response_message=orjson.dumps({"content": content}),
        usage=Usage(input_tokens=100, output_tokens=20), cost_usd_micros=2500, **extra,
    )  # fmt: skip


def test_a_turn_is_one_message_with_prompt_reply_tools_tokens_and_cost_when_opted_in() -> None:
    records = [
        _turn_record(T0, stop="tool_use", user_preview="why does CI fail?", content=[
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -x  tests/"}},
        ]),
        _turn_record(T0 + 1000, stop="tool_use", user_preview="", content=[
            {"type": "tool_use", "name": "Read", "input": {"file_path": "/repo/ci.yml"}},
        ]),
        _turn_record(T0 + 2000, stop="end_turn", user_preview="", content=[
            {"type": "text", "text": "The cache key changed.\n\nFix: pin it.\n" + "more\n" * 20},
        ]),
    ]  # fmt: skip
    links = [Link(r.exchange.id, TrafficClass.TURN) for r in records]
    quiet, nothing = _watch()
    quiet.observe(records, links)
    assert nothing.drain() == []  # not opted in
    watch, queue = _watch(hosts={HOST: HostAlerts(turns=True)})
    watch.observe(records[:2], links[:2])
    assert queue.drain() == []  # the turn goes on while Claude calls tools
    watch.observe(records[2:], links[2:])
    [alert] = queue.drain()
    assert alert.kind is AlertKind.TURN and alert.subject == "alice"
    fields = dict(alert.fields)
    assert fields["prompt"] == "why does CI fail?"
    assert fields["reply"].splitlines() == ["The cache key changed.", "Fix: pin it.", *["more"] * 4]
    assert fields["tools"] == "• Bash: pytest -x tests/\n• Read: /repo/ci.yml"
    assert fields["tokens"] == "300 in · 60 out" and fields["cost"] == "$0.0075"
    assert fields["model"] == "claude-opus-4-8" and fields["requests"] == "3"


def test_sub_agent_and_background_calls_are_not_turns() -> None:
    watch, queue = _watch(hosts={HOST: HostAlerts(turns=True)})
    record = _turn_record(T0, stop="end_turn", content=[{"type": "text", "text": "hi"}])
    watch.observe([record], [Link(record.exchange.id, TrafficClass.SUBAGENT)])
    watch.observe([record], [Link(record.exchange.id, TrafficClass.TITLE)])
    assert _kinds(queue.drain()) == []
