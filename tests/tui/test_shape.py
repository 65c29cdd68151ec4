"""A conversation's drawn tree and its numbers."""

from __future__ import annotations

from nexus.conversations.shape import build_tree
from nexus.tui.shape import analysis_basis, numbers
from tests.tui import data


def test_branches_and_subagents_nest_under_the_request_they_grew_from() -> None:
    tree = data.branched_tree()
    top = build_tree(tree)
    ids = [item.row.id for item in top]
    assert ids == [data.rid(n) for n in (1000, 1002, 1005, 1006, 1008)]
    first, tool_turn, task_turn, _, compaction = top
    assert [c.row.id for c in first.children] == [data.rid(1001)]  # the title call
    (task,) = tool_turn.children
    assert task.branch.name == "task-1" and [c.row.id for c in task.children] == [
        data.rid(1003),
        data.rid(1004),
    ]
    assert task_turn.children[0].branch.name == "branch-2"
    assert compaction.children[0].branch.name == "compact-1"
    assert sum(item.size for item in top) == 10 + 3  # every request plus three branch headings


def test_background_calls_can_be_hidden() -> None:
    top = build_tree(data.branched_tree(), with_background=False)
    assert top[0].children == []


def test_numbers_split_waiting_into_tools_and_the_person() -> None:
    n = numbers(data.branched_tree())
    assert (n.requests, n.turns, n.subagent_requests, n.compactions, n.background) == (
        10,
        6,
        2,
        1,
        1,
    )
    # 1000 (tool_use) → 1002: 8-3 = 5 s tools; 1003 → 1004: 21-18 = 3 s; 1002 → 1005: 30-11 = 19 s
    assert n.tool_ms == 27_000
    # 1005 → 1006: 95-33 = 62 s; 1006 → 1008 is a compaction (not a person turn)
    assert n.person_ms == 62_000
    assert [b.name for b in n.branches] == ["main", "task-1", "branch-2", "compact-1"]
    assert sum(b.requests for b in n.branches) == 10


def test_a_500_request_conversation_draws_every_node() -> None:
    tree = data.linear_tree(500)
    assert len(build_tree(tree)) == 500
    assert numbers(tree).prompts == 250


def test_an_analysis_counts_what_it_read_not_the_later_turns_of_the_branch_it_grew_from() -> None:
    tree = data.branched_tree()
    # branch-2 forked after 1005 (30 s); main went on with 1006 (95 s) and 1008 (200 s). Counting
    # whole branches marked the branch-2 analysis stale when main moved on, and took main's turns
    # before the spawn into the sub-agent's count.
    assert analysis_basis(tree, "branch-2", {"started_at_ms": data.T0 + 150_000}) == (4, 0)
    assert analysis_basis(tree, "task-1", {"started_at_ms": data.T0 + 25_000}) == (2, 0)
    assert analysis_basis(tree, "main", {"started_at_ms": data.T0 + 60_000}) == (3, 2)
