"""Per-conversation summaries: counting one linked request into a ``ConversationSummary``, or
computing one from all of a conversation's requests. Both give the same result for the same
requests whatever the order they are counted in, so the fast path (one request at a time) and the
repair path (recount) agree. Pure arithmetic; the store keeps the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from nexus.records import ConversationSummary, LinkNode, RequestSummary, TrafficClass

_CONTEXT_CLASSES = (TrafficClass.TURN, TrafficClass.COMPACTION)


def add_request(
    summary: ConversationSummary | None, node: LinkNode, request: RequestSummary
) -> ConversationSummary:
    """``summary`` with one more request counted in (a new summary when ``summary`` is None)."""
    conversation_id = node.conversation_id or node.request_id
    is_root = node.request_id == conversation_id
    u = request.usage
    if summary is None:
        summary = ConversationSummary(
            id=conversation_id,
            started_at_ms=request.started_at_ms,
            last_at_ms=request.started_at_ms,
            last_request_id=request.id,
            host=request.host,
            account_id=request.account_id,
            client_key_id=request.client_key_id,
            session_id=None,
            request_count=0,
            class_counts={},
            branch_count=0,
            subtask_count=0,
            input_tokens=0,
            output_tokens=0,
            cache_creation_tokens=0,
            cache_read_tokens=0,
            cost_usd_micros=0,
            models=(),
            latest_context_tokens=0,
            title="",
            last_user_preview="",
        )
    counts = dict(summary.class_counts)
    counts[str(node.traffic_class)] = counts.get(str(node.traffic_class), 0) + 1
    position = (request.started_at_ms, request.id)
    changes: dict[str, object] = {
        "started_at_ms": min(summary.started_at_ms, request.started_at_ms),
        "request_count": summary.request_count + 1,
        "class_counts": counts,
        # A sub-agent run is a sub-task, not a branch: a conversation with one sub-agent and no
        # rewind reads "1 branch · 1 sub-task" (migration 0014 recounted stored summaries).
        "branch_count": summary.branch_count
        + (node.branch_start and node.edge not in ("background", "task")),
        "subtask_count": summary.subtask_count + (node.edge == "task"),
        "input_tokens": summary.input_tokens + u.input_tokens,
        "output_tokens": summary.output_tokens + u.output_tokens,
        "cache_creation_tokens": summary.cache_creation_tokens + u.cache_creation_input_tokens,
        "cache_read_tokens": summary.cache_read_tokens + u.cache_read_input_tokens,
        "cost_usd_micros": summary.cost_usd_micros + (request.cost_usd_micros or 0),
        "models": tuple(sorted({*summary.models, *([request.model] if request.model else [])})),
    }
    if position > (summary.last_at_ms, summary.last_request_id):
        changes["last_at_ms"] = request.started_at_ms
        changes["last_request_id"] = request.id
    if is_root:
        changes["session_id"] = node.session_id
    # The title is the root's prompt; a root that carries none (it only answers tool calls: the
    # recording began mid-conversation) takes the first prompt counted after it.
    if request.user_preview and (is_root or not summary.title):
        changes["title"] = request.user_preview
    if node.traffic_class in _CONTEXT_CLASSES and _is_later(position, summary):
        changes["latest_turn_at_ms"] = request.started_at_ms
        changes["latest_turn_id"] = request.id
        changes["latest_context_tokens"] = u.context_tokens
        # A turn that only carries tool results has no preview: the latest prompt stays. (Counted
        # out of order, a prompt older than the latest turn is not taken; the recount is exact.)
        changes["last_user_preview"] = request.user_preview or summary.last_user_preview
    return replace(summary, **changes)  # type: ignore[arg-type]


def _is_later(position: tuple[int, str], summary: ConversationSummary) -> bool:
    if summary.latest_turn_id is None or summary.latest_turn_at_ms is None:
        return True
    return position > (summary.latest_turn_at_ms, summary.latest_turn_id)


def compute(rows: Iterable[tuple[LinkNode, RequestSummary]]) -> ConversationSummary | None:
    """The summary of a conversation from all its requests; None when it has none."""
    summary = None
    for node, request in sorted(rows, key=lambda r: r[0].position):
        summary = add_request(summary, node, request)
    return summary
