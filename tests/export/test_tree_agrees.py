"""The export's threads and the TUI's branch tree are one arrangement (``nexus.conversations.shape``)
read two ways: on every captured Claude Code session and every linker scenario, each request sits
in the same place in both (the request its branch hangs under, its rank in that branch), and the
same calls are set apart as background. Fails if either reader re-derives the tree its own way."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.conversations.shape import ConversationView, Thread, TreeItem, build_tree, build_view
from nexus.records import RequestFilter
from tests.conversations.cases import case_names, case_records
from tests.conversations.harness import link_live

# Where a request sits: the request its branch hangs under, the branch (None: the top level), its
# rank in that branch.
Place = tuple[str | None, str | None, int]


def tui_places(
    items: list[TreeItem], anchor: str | None, branch: str | None, out: dict[str, Place]
) -> None:
    rows = [i for i in items if i.row is not None and not i.row.is_background]
    for rank, item in enumerate(rows):
        assert item.row is not None
        out[item.row.id] = (anchor, branch, rank)
        for child in item.children:
            if child.branch is not None:  # a branch heading under this request
                tui_places(child.children, item.row.id, child.branch.name, out)
    for item in items:
        if item.branch is not None:  # a root branch's heading
            tui_places(item.children, None, item.branch.name, out)


def export_places(view: ConversationView) -> dict[str, Place]:
    out: dict[str, Place] = {}

    def thread(t: Thread, anchor: str | None, branch: str | None) -> None:
        for rank, turn in enumerate(t.turns):
            assert turn.id not in out, "a request exported twice"
            out[turn.id] = (anchor, branch, rank)
            for sub in turn.subagents:
                thread(sub, turn.id, sub.branch)

    for t in view.threads:
        thread(t, t.anchor_id, None if t.kind == "main" else t.branch)
    return out


@pytest.mark.parametrize("case", case_names())
async def test_the_export_threads_and_the_tui_tree_agree(store: Any, case: str) -> None:
    await link_live(store, case_records(case))
    page = await store.list_conversations(RequestFilter(), limit=100)
    assert page.items
    for conversation in page.items:
        tree = await store.get_conversation(conversation.id)
        view = build_view(conversation.id, tree.nodes, tree.branches)
        tui: dict[str, Place] = {}
        tui_places(build_tree(tree), None, None, tui)
        assert export_places(view) == tui
        background = {r.id for r in tree.nodes if r.is_background}
        assert {s.id for s in view.background} == background
        assert len(tui) + len(background) == len(tree.nodes)  # every request, once
