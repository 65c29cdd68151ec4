"""Reading a conversation branch out of the store as (request body, assembled response) pairs.

The conversation comes from ``nexus.conversations.reading`` and the branch from
``shape.branch_path``, as the exports and the TUI read them: the turns its agent went through, so a
rewind branch includes the turns before its fork and a compaction continuation includes what came
before the summary. Of those, the agent's own calls (not the summarising call of a compaction) are
read. Claude Code resends the history on every call, so only the last request before each drop in
message count (a compaction) is read in full; every other step is known from the small summary rows
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nexus.conversations.reading import ConversationNotFound, ConversationSource, load_conversation
from nexus.conversations.shape import branch_names, branch_path, build_view
from nexus.errors import AnalysisError
from nexus.records import RequestSummary, StoredRequest, TrafficClass


class BranchNotFound(AnalysisError):
    """No such conversation branch."""


class RequestSource(ConversationSource, Protocol):
    """The store reads the loader needs (any ``Store`` has them)."""

    async def get_request(self, request_id: str) -> StoredRequest | None: ...


async def branch_requests(
    source: ConversationSource, conversation_id: str, branch: str
) -> tuple[list[RequestSummary], list[RequestSummary]]:
    """The branch's agent calls in order (``shape.branch_path`` less compaction calls) and every
    request of the conversation, oldest first. Raises ``BranchNotFound`` for an unknown
    conversation or branch (naming the branches there are)."""
    try:
        nodes, branches = await load_conversation(source, conversation_id)
    except ConversationNotFound as exc:
        raise BranchNotFound(exc.message) from None
    view = build_view(conversation_id, nodes, branches)
    # An unclassified row (no link yet) counts as the agent's, as the tree shows it.
    path = [s for s in branch_path(view, branch) if _is_agent_call(s.traffic_class)]
    if not path:
        names = ", ".join(branch_names(view))
        raise BranchNotFound(f"conversation {conversation_id} has no branch {branch!r} ({names})")
    return path, nodes


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
    path, summaries = await branch_requests(source, conversation_id, branch)
    exchanges = []
    for summary in segment_ends(path):
        stored = await source.get_request(summary.id)
        if stored is not None:
            exchanges.append((stored.request_body, stored.response_message))
    return exchanges, summaries


def _is_agent_call(traffic_class: TrafficClass | None) -> bool:
    return traffic_class is None or traffic_class.is_agent_call
