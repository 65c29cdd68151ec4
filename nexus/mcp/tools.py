"""The read-only tools ``/mcp`` offers: Nexus's memory of past sessions and the caller's windows.

Each tool is a few calls of the store's existing queries (full-text search, conversation trees,
one stored request, the usage reports of ``nexus.usage.report``), narrowed to what the ``Caller``
may see, and returns a small JSON-able dict. Every text that leaves here goes through
``redact_text`` (``nexus.redact``): a key pasted into a prompt never comes back out. Sizes are
bounded: a search returns at most ``MAX_RESULTS`` conversations, a transcript at most
``MAX_TRANSCRIPT_CHARS`` characters (its start and its latest turns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from nexus.api.params import parse_time
from nexus.errors import NexusError
from nexus.mcp.caller import Caller
from nexus.records import (
    ConversationSummary,
    RequestFilter,
    RequestSummary,
    is_background_class,
    now_ms,
)
from nexus.redact import redact_text
from nexus.usage.report import usage_report_json, windows_json, windows_report
from nexus.wire import (
    ContentBlock,
    content_blocks,
    parse_object,
    parse_request,
    strip_reminders,
    tool_result_text,
)

MAX_RESULTS = 25
DEFAULT_RESULTS = 10
MAX_QUERY_CHARS = 500
SNIPPET_CHARS = 240
MAX_TRANSCRIPT_CHARS = 12_000
MAX_MESSAGE_CHARS = 1_500
MAX_TOOL_CHARS = 200
_HITS_PER_RESULT = 8  # requests read per conversation wanted: several hits share a conversation

SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "Words to find in prompts and replies."},
        "since": {
            "type": "string",
            "description": "Only sessions active since then: an age (2h, 7d) or an ISO date.",
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": 10},
    },
    "required": ["query"],
    "additionalProperties": False,
}
GET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "A conversation id from search_conversations."},
        "branch": {
            "type": "string",
            "description": "Which branch (main, branch-2, compact-1, task-1, ...). Default: main.",
        },
    },
    "required": ["id"],
    "additionalProperties": False,
}
USAGE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}

TOOLS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "search_conversations",
        "Search the team's past Claude Code sessions recorded by Nexus (full text over prompts "
        "and replies). Returns conversation ids, titles, dates and matching snippets.",
        SEARCH_SCHEMA,
    ),
    (
        "get_conversation",
        "One past session recorded by Nexus: its summary and a compact transcript of one branch.",
        GET_SCHEMA,
    ),
    (
        "usage_now",
        "Your rate-limit windows (5-hour, 7-day) as Nexus last saw them, and today's usage "
        "with its cache efficiency.",
        USAGE_SCHEMA,
    ),
)


class ToolError(NexusError):
    """The tool could not answer."""


@dataclass(frozen=True, slots=True)
class Tools:
    """The tools over one store (the composed store: it has every area's queries)."""

    store: Any
    clock: Callable[[], int] = now_ms  # epoch ms: "since 7d", today and the windows count from it

    async def call(self, name: str, arguments: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if name == "search_conversations":
            return await self.search_conversations(caller, **arguments)
        if name == "get_conversation":
            return await self.get_conversation(caller, **arguments)
        if name == "usage_now":
            return await self.usage_now(caller)
        raise ToolError(f"no tool named {name!r}: use {', '.join(t[0] for t in TOOLS)}")

    async def search_conversations(
        self, caller: Caller, query: str, since: str | None = None, limit: int = DEFAULT_RESULTS
    ) -> dict[str, Any]:
        query = query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            raise ToolError(f"query must be 1 to {MAX_QUERY_CHARS} characters")
        limit = max(1, min(int(limit), MAX_RESULTS))
        since_ms = _since(since, self.clock())
        flt = caller.scoped(RequestFilter(text=query, since_ms=since_ms))
        page = await self.store.list_requests(flt, None, limit * _HITS_PER_RESULT)
        hits: dict[str, list[RequestSummary]] = {}
        for summary in page.items:
            key = summary.conversation_id or summary.id
            if key in hits or len(hits) < limit:
                hits.setdefault(key, []).append(summary)
        results = []
        for conversation_id, matched in hits.items():
            conversation = await self._summary(conversation_id, caller)
            results.append(_search_result(conversation_id, conversation, matched, query))
        return {"query": query, "since_ms": since_ms, "results": results}

    async def get_conversation(
        self, caller: Caller, id: str, branch: str = "main"
    ) -> dict[str, Any]:
        tree = await self.store.get_conversation(id) if 0 < len(id) <= 128 else None
        if tree is None or not caller.may_see(tree.summary.host, tree.summary.account_id):
            raise ToolError(f"no conversation with id {id!r} (ids come from search_conversations)")
        names = [b.name for b in tree.branches]
        chosen = [n for n in tree.nodes if (n.branch or "main") == branch]
        if not chosen:
            raise ToolError(f"conversation {id!r} has no branch {branch!r}: {', '.join(names)}")
        main = [n for n in chosen if not is_background_class(n.traffic_class)] or chosen
        tip = main[-1]
        stored = await self.store.get_request(tip.id)
        transcript = _transcript(stored.request_body, stored.response_message) if stored else ""
        return {
            "conversation": _conversation_json(tree.summary),
            "branch": branch,
            "branches": names,
            "requests_on_branch": len(chosen),
            "transcript_of_request": tip.id,
            "transcript": transcript,
        }

    async def usage_now(self, caller: Caller) -> dict[str, Any]:
        at = self.clock()
        account = caller.windows_account
        report = windows_report(
            self.store, at, account=account, with_series=False, with_attribution=False
        )
        windows = windows_json(await report)
        day_start = at - at % 86_400_000
        flt = caller.scoped(RequestFilter(since_ms=day_start))
        today = (await usage_report_json(self.store, flt, ()))["total"]
        tokens = today["tokens"]
        cached = tokens["cache_read"]
        fresh = tokens["input"] + tokens["cache_write_5m"] + tokens["cache_write_1h"] + cached
        return {
            "now": _iso(at),
            "accounts": [
                {
                    "account": redact_text(a["account"]),
                    "source": a["source"],
                    "status": a["status"],
                    "windows": [_window(w) for w in a["windows"]],
                }
                for a in windows["accounts"]
            ],
            "today_utc": {
                "requests": today["requests"],
                "tokens": tokens,
                "cost_usd": today["cost_usd"],
                "cache_read_share": round(cached / fresh, 4) if fresh else None,
            },
            "budget": None,  # no budgets in Nexus yet: windows are the limits it knows
        }

    async def _summary(self, conversation_id: str, caller: Caller) -> ConversationSummary | None:
        flt = caller.scoped(RequestFilter(conversation_id=conversation_id))
        page = await self.store.list_conversations(flt, None, 1)
        return page.items[0] if page.items else None


def _since(value: str | None, at_ms: int) -> int | None:
    if not value:
        return None
    try:
        return parse_time({"since": value}, "since", at_ms)
    except NexusError as exc:
        raise ToolError(f"since: {exc.message}") from exc


def _search_result(
    conversation_id: str,
    conversation: ConversationSummary | None,
    matched: list[RequestSummary],
    query: str,
) -> dict[str, Any]:
    first = matched[0]
    return {
        "id": conversation_id,
        "title": redact_text(conversation.title if conversation else first.user_preview),
        "started": _iso(conversation.started_at_ms if conversation else first.started_at_ms),
        "last_active": _iso(conversation.last_at_ms if conversation else first.started_at_ms),
        "requests": conversation.request_count if conversation else len(matched),
        "snippets": [
            {"request_id": s.id, "at": _iso(s.started_at_ms), "text": _snippet(s, query)}
            for s in matched[:3]
        ],
    }


def _snippet(summary: RequestSummary, query: str) -> str:
    """The preview that holds the query (user text first, then the reply), around the match."""
    words = [w.lower() for w in query.split() if w]
    for label, text in (("user", summary.user_preview), ("assistant", summary.reply_preview)):
        at = _find(text, words)
        if at >= 0:
            start = max(0, at - SNIPPET_CHARS // 3)
            cut = text[start : start + SNIPPET_CHARS]
            return redact_text(f"{label}: {'…' if start else ''}{cut}")
    text = summary.user_preview or summary.reply_preview
    return redact_text(text[:SNIPPET_CHARS])


def _find(text: str, words: list[str]) -> int:
    lower = text.lower()
    found = [i for i in (lower.find(w) for w in words) if i >= 0]
    return min(found, default=-1)


def _conversation_json(s: ConversationSummary) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": redact_text(s.title),
        "latest_prompt": redact_text(s.last_user_preview),
        "started": _iso(s.started_at_ms),
        "last_active": _iso(s.last_at_ms),
        "requests": s.request_count,
        "branches": s.branch_count,
        "subtasks": s.subtask_count,
        "models": list(s.models),
        "tokens": {
            "input": s.input_tokens,
            "output": s.output_tokens,
            "cache_write": s.cache_creation_tokens,
            "cache_read": s.cache_read_tokens,
        },
        "cost_usd": s.cost_usd_micros / 1_000_000,
    }


def _transcript(request_body: bytes, response_message: bytes | None) -> str:
    """The branch as one request saw it (its whole history plus its reply), compact and bounded:
    the first message and as many of the latest as fit in ``MAX_TRANSCRIPT_CHARS``."""
    messages = list(parse_request(request_body).messages)
    reply = parse_object(response_message)
    if reply is not None:
        messages.append({"role": "assistant", "content": reply.get("content")})
    lines = [line for line in (_message_line(m) for m in messages) if line]
    if not lines:
        return ""
    kept = [lines[0]]
    budget = MAX_TRANSCRIPT_CHARS - len(lines[0])
    tail: list[str] = []
    for line in reversed(lines[1:]):
        if len(line) + 1 > budget:
            break
        tail.append(line)
        budget -= len(line) + 1
    skipped = len(lines) - 1 - len(tail)
    if skipped:
        kept.append(f"[… {skipped} earlier messages left out …]")
    kept.extend(reversed(tail))
    return redact_text("\n".join(kept))


def _message_line(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    role = message.get("role")
    text = " ".join(p for p in map(_block_text, content_blocks(message.get("content"))) if p)
    if not text:
        return ""
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    return f"{role}: {text}"


def _block_text(block: ContentBlock) -> str:
    if block.kind == "text":
        return strip_reminders(block.text).strip()
    if block.type == "tool_use":
        try:
            args = orjson.dumps(block.input).decode()
        except orjson.JSONEncodeError:
            args = ""
        return f"[tool {'?' if block.name is None else block.name}: {_short(args)}]"
    if block.kind == "tool_result":
        return f"[tool result: {_short(tool_result_text(block.content, ' '))}]"
    return ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TOOL_CHARS else text[:MAX_TOOL_CHARS] + "…"


def _window(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": w["name"],
        "source": w["source"],
        "utilization": w["utilization"],
        "status": w["status"],
        "resets_at": _iso(w["reset_at_ms"]) if w["reset_at_ms"] is not None else None,
        "resets_in_s": w["resets_in_s"],
        "requests": w["requests"],
        "tokens": w["tokens"],
        "cost_usd": None if w["cost_usd_micros"] is None else w["cost_usd_micros"] / 1_000_000,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
