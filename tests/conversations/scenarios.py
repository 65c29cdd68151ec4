"""Table of traffic scenarios in Claude Code's shapes, each with the whole tree it must produce.

A scenario builds its traffic and returns ``{label: (parent, branch, conversation, subtask_of,
class)}`` with every value a label (the conversation is named by its first request).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.conversations.harness import Row
from tests.conversations.traffic import Scope, Traffic, agent_call

Expected = dict[str, Row]
SCENARIOS: dict[str, Callable[[Traffic], Expected]] = {}


def scenario(fn: Callable[[Traffic], Expected]) -> Callable[[Traffic], Expected]:
    SCENARIOS[fn.__name__] = fn
    return fn


def turn(
    parent: str | None, branch: str, conv: str, sub: str | None = None, cls: str = "turn"
) -> Row:
    return (parent, branch, conv, sub, cls)


def bg(conv: str | None, cls: str) -> Row:
    return (None, None, conv, None, cls)


@scenario
def linear(t: Traffic) -> Expected:
    a = t.session().agent("fix the login bug")
    a.send("t1")
    a.say("now add a test").send("t2")
    a.say("and update the docs", as_string=True).send("t3")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t3": turn("t2", "main", "t1"),
    }


@scenario
def long_tool_loop(t: Traffic) -> Expected:
    a = t.session().agent("run the test suite until green")
    expected = {}
    parent = None
    for i in range(12):
        a.send(f"t{i}", tools=[("Bash", {"command": f"pytest -k {i}"})])
        a.results(f"{i} failed")
        expected[f"t{i}"] = turn(parent, "main", "t0")
        parent = f"t{i}"
    a.send("done", text="all green")
    expected["done"] = turn(parent, "main", "t0")
    return expected


@scenario
def rewind_at_turn_3_both_continue(t: Traffic) -> Expected:
    a = t.session().agent("one")
    a.send("t1")
    a.say("two").send("t2")
    a.say("three").send("t3")
    a.say("four").send("t4")
    b = a.rewind(3).say("three, differently")
    b.send("r1")
    a.say("five").send("t5")
    b.say("four, differently").send("r2")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t3": turn("t2", "main", "t1"),
        "t4": turn("t3", "main", "t1"),
        "r1": turn("t2", "branch-2", "t1"),
        "t5": turn("t4", "main", "t1"),
        "r2": turn("r1", "branch-2", "t1"),
    }


@scenario
def rewind_twice_from_same_point(t: Traffic) -> Expected:
    a = t.session().agent("one")
    a.send("t1")
    a.say("two").send("t2")
    a.say("three").send("t3")
    a.rewind(2).say("two, take two").send("b1")
    c = a.rewind(2).say("two, take three")
    c.send("c1")
    c.say("go on").send("c2")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t3": turn("t2", "main", "t1"),
        "b1": turn("t1", "branch-2", "t1"),
        "c1": turn("t1", "branch-3", "t1"),
        "c2": turn("c1", "branch-3", "t1"),
    }


@scenario
def rewind_to_first_message(t: Traffic) -> Expected:
    a = t.session().agent("one")
    a.send("t1")
    a.say("two").send("t2")
    fresh = a.rewind(1).say("a new start")
    fresh.send("f1")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "f1": turn(None, "branch-2", "t1"),
    }


@scenario
def retry_after_overload(t: Traffic) -> Expected:
    a = t.session().agent("one")
    a.send("t1")
    a.say("two")
    a.send("t2", fail=True)
    a.send("t2b")
    a.say("three").send("t3")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t2b": turn("t2", "main", "t1"),
        "t3": turn("t2b", "main", "t1"),
    }


@scenario
def manual_compact_new_marker(t: Traffic) -> Expected:
    a = t.session().agent("build the parser")
    a.send("t1")
    a.say("add error handling").send("t2")
    a.compact("k1", "1. The user asked for a parser of the config format with errors.", keep_tail=1)
    a.say("continue with tests").send("x1")
    a.say("more").send("x2")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "k1": turn("t2", "main", "t1", cls="compaction"),
        "x1": turn("k1", "compact-1", "t1"),
        "x2": turn("x1", "compact-1", "t1"),
    }


@scenario
def auto_compact_old_marker_mid_tool_loop(t: Traffic) -> Expected:
    a = t.session(headers=False, legacy=True).agent("migrate the database")
    a.send("t1", tools=[("Bash", {"command": "alembic upgrade"})])
    a.results("upgraded")
    a.compact(
        "k1", "The migration ran; next the user wants the rollback script tested.", new_marker=False
    )
    a.send("x1", tools=[("Bash", {"command": "alembic downgrade"})])
    a.results("downgraded").send("x2")
    a.compact(
        "k2",
        "Both directions of the migration work; tests for rollback are written.",
        new_marker=False,
    )
    a.say("ship it").send("y1")
    return {
        "t1": turn(None, "main", "t1"),
        "k1": turn("t1", "main", "t1", cls="compaction"),
        "x1": turn("k1", "compact-1", "t1"),
        "x2": turn("x1", "compact-1", "t1"),
        "k2": turn("x2", "compact-1", "t1", cls="compaction"),
        "y1": turn("k2", "compact-2", "t1"),
    }


@scenario
def compact_keeping_tail_without_session(t: Traffic) -> Expected:
    a = t.session(anonymous=True).agent("refactor the cache layer")
    a.send("t1")
    a.say("split the module").send("t2")
    a.compact(
        "k1", "The cache layer was split into store.py and policy.py as requested.", keep_tail=2
    )
    a.say("and the docs").send("x0")
    a.say("now benchmark").send("x1")
    other = t.session(anonymous=True).agent("something unrelated entirely")
    other.send("o1")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "k1": turn("t2", "main", "t1", cls="compaction"),
        "x0": turn("k1", "compact-1", "t1"),
        "x1": turn("x0", "compact-1", "t1"),
        "o1": turn(None, "main", "o1"),
    }


@scenario
def one_subagent(t: Traffic) -> Expected:
    s = t.session()
    a = s.agent("spawn a sub-agent that runs one command, then answer")
    a.send("p1", tools=[agent_call("Run `echo ok` with Bash and report its output.")])
    sub = s.subagent("Run `echo ok` with Bash and report its output.")
    sub.send("s1", tools=[("Bash", {"command": "echo ok"})])
    sub.results("ok").send("s2", text="The tool said: ok")
    a.results("The tool said: ok\nagentId: x").send("p2")
    return {
        "p1": turn(None, "main", "p1"),
        "s1": turn("p1", "task-1", "p1", "p1", "subagent"),
        "s2": turn("s1", "task-1", "p1", "p1", "subagent"),
        "p2": turn("p1", "main", "p1"),
    }


def _parallel(t: Traffic, prompts: list[str]) -> Expected:
    s = t.session()
    a = s.agent("research three things in parallel")
    a.send("p1", tools=[agent_call(p, f"task {i}") for i, p in enumerate(prompts)])
    base = t.tick(100)
    subs = [s.subagent(p) for p in prompts]
    # All three start within a few ms; their first calls end in reverse order.
    for i, sub in enumerate(subs):
        sub.send(
            f"s{i}a",
            tools=[("Read", {"path": f"f{i}"})],
            started_at_ms=base + i,
            duration_ms=900 - 100 * i,
        )
    for i, sub in enumerate(subs):
        sub.results("contents").send(f"s{i}b", started_at_ms=base + 1000 + i, duration_ms=50)
    t.tick(2000)
    a.results("r0", "r1", "r2").send("p2")
    expected = {"p1": turn(None, "main", "p1"), "p2": turn("p1", "main", "p1")}
    for i in range(3):
        expected[f"s{i}a"] = turn("p1", f"task-{i + 1}", "p1", "p1", "subagent")
        expected[f"s{i}b"] = turn(f"s{i}a", f"task-{i + 1}", "p1", "p1", "subagent")
    return expected


@scenario
def three_parallel_subagents(t: Traffic) -> Expected:
    return _parallel(t, ["Find the config loader.", "Find the CLI entry.", "Find the tests."])


@scenario
def three_parallel_subagents_same_prompt(t: Traffic) -> Expected:
    return _parallel(t, ["Look around the repository."] * 3)


@scenario
def subagent_spawns_subagent(t: Traffic) -> Expected:
    s = t.session()
    a = s.agent("delegate the audit")
    a.send("p1", tools=[agent_call("Audit the auth module.")])
    sub = s.subagent("Audit the auth module.")
    sub.send("s1", tools=[agent_call("Check the token refresh path.")])
    inner = s.subagent("Check the token refresh path.")
    inner.send("i1", tools=[("Read", {"path": "oauth.py"})])
    inner.results("code").send("i2")
    sub.results("refresh is fine").send("s2")
    a.results("audit done").send("p2")
    return {
        "p1": turn(None, "main", "p1"),
        "s1": turn("p1", "task-1", "p1", "p1", "subagent"),
        "i1": turn("s1", "task-2", "p1", "s1", "subagent"),
        "i2": turn("i1", "task-2", "p1", "s1", "subagent"),
        "s2": turn("s1", "task-1", "p1", "p1", "subagent"),
        "p2": turn("p1", "main", "p1"),
    }


@scenario
def background_calls_in_between(t: Traffic) -> Expected:
    s = t.session()
    s.background("quota", "quota")
    a = s.agent("fix the login bug")
    start = t.tick()
    a.send("t1", started_at_ms=start + 5, duration_ms=3000)
    s.background("title", "title", started_at_ms=start, duration_ms=400)
    a.say("go on").send("t2")
    s.background("ct1", "count_tokens")
    s.background("ct2", "count_tokens")
    a.say("and more").send("t3")
    return {
        "quota": bg("t1", "quota"),
        "title": bg("t1", "title"),
        "ct1": bg("t1", "count_tokens"),
        "ct2": bg("t1", "count_tokens"),
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t3": turn("t2", "main", "t1"),
    }


@scenario
def injected_system_messages_come_and_go(t: Traffic) -> Expected:
    a = t.session().agent("tidy the imports", inject_system=False)
    a.send("t1", extra_system="Plan mode is on.")
    a.say("next").send("t2")
    a.say("again").send("t3", extra_system="The user changed the permission mode.")
    a.say("last").send("t4")
    return {
        "t1": turn(None, "main", "t1"),
        "t2": turn("t1", "main", "t1"),
        "t3": turn("t2", "main", "t1"),
        "t4": turn("t3", "main", "t1"),
    }


@scenario
def two_users_both_say_hi(t: Traffic) -> Expected:
    alice = t.session(scope=Scope(client_key_id="key-alice"), anonymous=True).agent("hi")
    bob = t.session(scope=Scope(client_key_id="key-bob"), anonymous=True).agent("hi")
    alice.send("a1", text="Hello! How can I help?")
    bob.send("b1", text="Hello! How can I help?")
    alice.say("what is 2+2").send("a2")
    bob.say("what is 2+2").send("b2")
    return {
        "a1": turn(None, "main", "a1"),
        "b1": turn(None, "main", "b1"),
        "a2": turn("a1", "main", "a1"),
        "b2": turn("b1", "main", "b1"),
    }


@scenario
def two_sessions_of_one_user_both_say_hi(t: Traffic) -> Expected:
    one = t.session().agent("hi")
    two = t.session().agent("hi")
    one.send("a1", text="Hello!")
    two.send("b1", text="Hello!")
    one.say("thanks").send("a2")
    two.say("thanks").send("b2")
    return {
        "a1": turn(None, "main", "a1"),
        "b1": turn(None, "main", "b1"),
        "a2": turn("a1", "main", "a1"),
        "b2": turn("b1", "main", "b1"),
    }


@scenario
def interleaved_sessions_one_account(t: Traffic) -> Expected:
    scope = Scope(account_id="acct-1", client_key_id="key-team")
    one = t.session(scope=scope).agent("write the release notes")
    two = t.session(scope=scope).agent("review the open PRs")
    expected = {}
    for i in range(4):
        one.send(f"a{i}")
        two.send(f"b{i}")
        one.say(f"more {i}")
        two.say(f"next {i}")
        expected[f"a{i}"] = turn(f"a{i - 1}" if i else None, "main", "a0")
        expected[f"b{i}"] = turn(f"b{i - 1}" if i else None, "main", "b0")
    return expected


@scenario
def continue_with_same_session(t: Traffic) -> Expected:
    s = t.session()
    a = s.agent("remember the word pineapple")
    a.send("t1")
    t.tick(3_600_000)  # `claude -c` an hour later: same session id, full history resent
    a.say("what word did I ask you to remember?").send("t2")
    return {"t1": turn(None, "main", "t1"), "t2": turn("t1", "main", "t1")}
