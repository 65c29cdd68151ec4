"""A conversation's summaries and the linker's branches become threads: main, each branch at the
request it grew from, sub-agents nested in the turn that spawned them."""

from __future__ import annotations

import pytest

from nexus.conversations.reading import ConversationNotFound, listed_requests, load_conversation
from nexus.conversations.shape import ConversationView, build_view, select_branch
from nexus.records import RequestSummary, TrafficClass, branches_of
from tests.export.builders import MemorySource, make_summary, scenario


async def _view():  # type: ignore[no-untyped-def]
    records, ids = scenario()
    nodes, branches = await load_conversation(MemorySource(records), "conv-1")
    return build_view("conv-1", nodes, branches), ids


def build(rows: list[RequestSummary]) -> ConversationView:
    rows = sorted(rows, key=lambda s: (s.started_at_ms, s.id))
    return build_view("c", rows, branches_of([s for s in rows if not s.is_background]))


async def test_main_thread_runs_to_the_compaction_with_the_subagent_nested() -> None:
    view, ids = await _view()
    main = view.threads[0]
    assert main.kind == "main"
    assert [t.id for t in main.turns] == [
        ids["t1"],
        ids["t2"],
        ids["t3"],
        ids["t4"],
        ids["compaction"],
    ]
    spawner = main.turns[1]
    assert [s.kind for s in spawner.subagents] == ["subagent"]
    assert [t.id for t in spawner.subagents[0].turns] == [ids["s1"], ids["s2"]]
    assert spawner.subagents[0].anchor_id == ids["t2"]


async def test_a_rewind_and_a_compaction_are_threads_anchored_where_they_grew() -> None:
    view, ids = await _view()
    branch, after = view.threads[1:]
    assert (branch.kind, branch.branch, branch.anchor_id) == ("branch", "branch-2", ids["t3"])
    assert [t.id for t in branch.turns] == [ids["b1"], ids["b2"]]
    assert (after.kind, after.branch, after.anchor_id) == ("branch", "compact-1", ids["compaction"])
    assert [t.id for t in after.turns] == [ids["after_compaction"]]
    assert len(view.threads) == 3


async def test_background_calls_are_set_apart() -> None:
    view, _ = await _view()
    assert [s.traffic_class for s in view.background] == [TrafficClass.TITLE, TrafficClass.QUOTA]
    shown = {t.id for t in view.all_turns()}
    assert not shown & {s.id for s in view.background}
    assert len(shown) == len(view.requests) == 10


async def test_selecting_a_branch_keeps_the_turns_that_led_to_it_and_their_subagents() -> None:
    view, ids = await _view()
    picked = select_branch(view, "branch-2")
    assert len(picked.threads) == 1
    thread = picked.threads[0]
    assert [t.id for t in thread.turns] == [ids["t1"], ids["t2"], ids["t3"], ids["b1"], ids["b2"]]
    assert thread.turns[1].subagents[0].turns[0].id == ids["s1"]
    assert ids["t4"] not in {s.id for s in picked.requests}
    with pytest.raises(KeyError):
        select_branch(view, "nope")


def test_a_turn_whose_parent_is_a_background_call_still_links_up() -> None:
    a = make_summary(id="a", started_at_ms=1)
    q = make_summary(
        id="q", started_at_ms=2, parent_request_id="a", traffic_class=TrafficClass.QUOTA
    )
    b = make_summary(id="b", started_at_ms=3, parent_request_id="q")
    view = build([b, q, a])
    assert [t.id for t in view.threads[0].turns] == ["a", "b"]


def test_a_subagent_whose_spawner_is_missing_gets_its_own_thread() -> None:
    a = make_summary(id="a", started_at_ms=1)
    s = make_summary(
        id="s",
        started_at_ms=2,
        subtask_of="gone",
        traffic_class=TrafficClass.SUBAGENT,
        branch="task-1",
    )
    view = build([a, s])
    assert [(t.kind, t.id) for t in view.threads] == [("main", "a"), ("subagent", "s")]


def test_a_subagent_whose_turns_all_carry_subtask_of_stays_one_thread() -> None:
    p = make_summary(id="p", started_at_ms=1)
    s1 = make_summary(id="s1", started_at_ms=2, subtask_of="p", branch="task-1")
    s2 = make_summary(
        id="s2", started_at_ms=3, subtask_of="p", parent_request_id="s1", branch="task-1"
    )
    n = make_summary(id="n", started_at_ms=4, parent_request_id="p")
    view = build([p, s1, s2, n])
    main = view.threads[0]
    assert [t.id for t in main.turns] == ["p", "n"]
    assert [t.id for t in main.turns[0].subagents[0].turns] == ["s1", "s2"]
    assert len(view.threads) == 1


def test_two_rewinds_from_one_turn_are_two_branches() -> None:
    a = make_summary(id="a", started_at_ms=1)
    b = make_summary(id="b", started_at_ms=2, parent_request_id="a")
    r1 = make_summary(id="r1", started_at_ms=3, parent_request_id="a", branch="branch-2")
    r2 = make_summary(id="r2", started_at_ms=4, parent_request_id="a", branch="branch-3")
    view = build([r2, r1, b, a])
    assert [(t.kind, t.branch, t.anchor_id) for t in view.threads] == [
        ("main", "main", None),
        ("branch", "branch-2", "a"),
        ("branch", "branch-3", "a"),
    ]


async def test_an_unknown_conversation_is_an_error() -> None:
    with pytest.raises(ConversationNotFound):
        await load_conversation(MemorySource([]), "nope")
    with pytest.raises(ConversationNotFound):
        await listed_requests(MemorySource([]), "nope")


async def test_selecting_a_subagent_branch_shows_it_inside_the_turn_that_spawned_it() -> None:
    view, ids = await _view()
    (thread,) = select_branch(view, "task-1").threads
    assert [t.id for t in thread.turns] == [ids["t1"], ids["t2"]]
    assert [t.id for t in thread.turns[1].subagents[0].turns] == [ids["s1"], ids["s2"]]


async def test_selecting_the_branch_after_a_compaction_keeps_the_thread_it_continues() -> None:
    view, ids = await _view()
    (thread,) = select_branch(view, "compact-1").threads
    assert thread.turns[-1].id == ids["after_compaction"]
    assert thread.turns[0].id == ids["t1"]


def test_requests_in_a_cycle_of_links_are_still_shown() -> None:
    a = make_summary(id="a", started_at_ms=1)
    x = make_summary(id="x", started_at_ms=2, parent_request_id="y", branch="branch-2")
    y = make_summary(id="y", started_at_ms=3, parent_request_id="x", branch="branch-3")
    view = build([a, x, y])
    assert {t.id for t in view.all_turns()} == {"a", "x", "y"}
