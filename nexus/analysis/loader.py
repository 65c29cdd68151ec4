"""Reading a conversation branch out of the store as (request body, assembled response) pairs.

The branch's lineage is its newest main-agent request and that request's ancestors (parent links),
restricted to the same agent, so a rewind branch includes the turns before its fork and a compaction
continuation includes what came before the summary. Claude Code resends the history on every call,
so only the last request before each drop in message count (a compaction) is read in full; every
other step is known from the small summary rows alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nexus.errors import AnalysisError
from nexus.records import Page, RequestFilter, RequestSummary, StoredRequest, TrafficClass

PAGE_SIZE = 500
_AGENT_CLASSES = frozenset({TrafficClass.TURN, TrafficClass.SUBAGENT, None})


class BranchNotFound(AnalysisError):
    """No such conversation branch."""


class RequestSource(Protocol):
    """The two store reads the loader needs (any ``Store`` has them)."""

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]: ...

    async def get_request(self, request_id: str) -> StoredRequest | None: ...


async def conversation_summaries(
    source: RequestSource, conversation_id: str
) -> list[RequestSummary]:
    """Every summary of a conversation, oldest first: the conversation engine's tree when the
    source has one (one read), else the request list filtered to the conversation (links written
    without the engine's summary, as by ``write_links`` alone, are found that way)."""
    get_conversation = getattr(source, "get_conversation", None)
    if get_conversation is not None:
        tree = await get_conversation(conversation_id)
        if tree is not None and tree.nodes:
            nodes: list[RequestSummary] = list(tree.nodes)
            return sorted(nodes, key=lambda s: (s.started_at_ms, s.id))
    flt = RequestFilter(conversation_id=conversation_id)
    summaries: list[RequestSummary] = []
    cursor: str | None = None
    while True:
        page = await source.list_requests(flt, cursor, PAGE_SIZE)
        summaries.extend(page.items)
        if page.next_cursor is None or not page.items:
            break
        cursor = page.next_cursor
    summaries.sort(key=lambda s: (s.started_at_ms, s.id))
    return summaries


def branch_path(summaries: Sequence[RequestSummary], branch: str) -> list[RequestSummary]:
    """The branch's lineage, oldest first: its newest agent request and that one's ancestors."""
    on_branch = [s for s in summaries if s.branch == branch and s.traffic_class in _AGENT_CLASSES]
    if not on_branch:
        return []
    leaf = max(on_branch, key=lambda s: (s.started_at_ms, s.id))
    by_id = {s.id: s for s in summaries}
    path = [leaf]
    seen = {leaf.id}
    node = leaf
    while node.parent_request_id and node.parent_request_id not in seen:
        parent = by_id.get(node.parent_request_id)
        if parent is None:
            break
        seen.add(parent.id)
        path.append(parent)
        node = parent
    path.reverse()
    return [s for s in path if s.traffic_class in _AGENT_CLASSES and s.agent_id == leaf.agent_id]


def segment_ends(path: Sequence[RequestSummary]) -> list[RequestSummary]:
    """The requests whose bodies hold the whole history: the last, and each one before a drop in
    message count (a compaction restarted the history). A missing count keeps the request."""
    ends = []
    for current, following in zip(path, [*path[1:], None], strict=True):
        if (
            following is None
            or not current.message_count
            or following.message_count <= current.message_count
        ):
            ends.append(current)
    return ends


async def load_branch_exchanges(
    source: RequestSource, conversation_id: str, branch: str
) -> list[tuple[bytes, bytes | None]]:
    """(request body, assembled response) of the branch's history-bearing requests, in order."""
    exchanges, _ = await load_branch(source, conversation_id, branch)
    return exchanges


async def load_branch(
    source: RequestSource, conversation_id: str, branch: str
) -> tuple[list[tuple[bytes, bytes | None]], list[RequestSummary]]:
    """The branch's exchanges (as ``load_branch_exchanges``) and every summary of the
    conversation (what the analysis input's notes read, e.g. the cache breaks)."""
    summaries = await conversation_summaries(source, conversation_id)
    if not summaries:
        raise BranchNotFound(f"conversation {conversation_id} not found")
    path = branch_path(summaries, branch)
    if not path:
        raise BranchNotFound(f"conversation {conversation_id} has no branch {branch!r}")
    exchanges = []
    for summary in segment_ends(path):
        stored = await source.get_request(summary.id)
        if stored is not None:
            exchanges.append((stored.request_body, stored.response_message))
    return exchanges, summaries
