"""The branch an analysis reads is the branch the TUI's tree and the export show: on every captured
Claude Code session and every linker scenario, for every branch, the requests the analysis loader
reads (``branch_requests``) are the rows one passes going down the TUI's tree to the branch's
newest request, and that request's ancestors by parent link, each kept to the branch's own agent.
The export's threads place every request where the TUI's tree does (``tests/export/
test_tree_agrees.py``), so this holds for them too. Fails if the loader narrows a branch its own
way."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.analysis.loader import BranchNotFound, branch_requests
from nexus.conversations.shape import TreeItem, build_tree, start_key
from nexus.records import RequestFilter, RequestSummary, TrafficClass
from tests.conversations.cases import case_names, case_records
from tests.conversations.harness import link_live

_AGENT_CLASSES = {TrafficClass.TURN, TrafficClass.SUBAGENT, None}


def tui_path(items: list[TreeItem], target: str) -> list[RequestSummary] | None:
    """The rows passed going down the drawn tree to ``target``: in each list the rows before the
    one that holds it, then that one; a branch heading starts afresh below the row it hangs under."""
    before: list[RequestSummary] = []
    for item in items:
        if item.row is not None and item.row.id == target:
            return [*before, item.row]
        inner = tui_path(item.children, target)
        if inner is not None:
            if item.row is None:  # a branch heading: what led to it is the row above it
                return inner
            return [*before, *([] if item.row.is_background else [item.row]), *inner]
        if item.row is not None and not item.row.is_background:
            before.append(item.row)
    return None


def parent_path(nodes: list[RequestSummary], target: str) -> list[RequestSummary]:
    by_id = {s.id: s for s in nodes}
    path = [by_id[target]]
    while path[-1].parent_request_id in by_id and len(path) <= len(nodes):
        path.append(by_id[path[-1].parent_request_id or ""])
    return path[::-1]


def own_agent(path: list[RequestSummary], leaf: RequestSummary) -> list[str]:
    return [
        s.id for s in path if s.traffic_class in _AGENT_CLASSES and s.subtask_of == leaf.subtask_of
    ]


@pytest.mark.parametrize("case", case_names())
async def test_the_analysed_branch_is_the_branch_the_tui_and_the_export_show(
    job_store: Any, case: str
) -> None:
    await link_live(job_store, case_records(case))
    page = await job_store.list_conversations(RequestFilter(), limit=100)
    checked = 0
    for conversation in page.items:
        tree = await job_store.get_conversation(conversation.id)
        items = build_tree(tree)
        for name in sorted({s.branch for s in tree.nodes if s.branch and not s.is_background}):
            on_branch = [
                s for s in tree.nodes if s.branch == name and s.traffic_class in _AGENT_CLASSES
            ]
            if not on_branch:
                with pytest.raises(BranchNotFound):
                    await branch_requests(job_store, conversation.id, name)
                continue
            leaf = max(on_branch, key=start_key)
            drawn = tui_path(items, leaf.id)
            assert drawn is not None, "the branch's newest request is in the tree"
            path, _ = await branch_requests(job_store, conversation.id, name)
            read = [s.id for s in path]
            assert read == own_agent(drawn, leaf), name
            assert read == own_agent(parent_path(tree.nodes, leaf.id), leaf), name
            checked += 1
    assert checked
