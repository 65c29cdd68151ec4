"""What the recorder learns from a raw exchange: model, stream flag, Claude Code's session and agent
ids, previews and counts for the list views, the assembled response, usage and rate-limit headers.

Runs in the writer, off the hot path; every request body is parsed once here (``nexus/wire.py``) and
the record carries that parse to the stages after (cutting, search, linking). Never raises on odd
input: an unparseable body gives a record with what could be learnt.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import brotli
import zstandard

from nexus.claude_code import typed_text
from nexus.recorder.sse import Assembled, assemble_json, assemble_sse
from nexus.records import Exchange, Outcome, RequestRecord
from nexus.wire import ValueMemory, parse_request, session_id, text_blocks

if TYPE_CHECKING:
    from nexus.usage.cost import CostFunction

PREVIEW_CHARS = 240
IDENT_CHARS = 256
_RATELIMIT_PREFIXES = ("anthropic-ratelimit-", "retry-after")


def derive(
    exchange: Exchange, cost: CostFunction | None = None, memory: ValueMemory | None = None
) -> RequestRecord:
    """``memory``: the ``tools`` and ``system`` values recent bodies repeated (parsed once)."""
    # the one parse; the record carries it along
    parsed = parse_request(exchange.request_body, memory)
    assembled = _assemble(exchange)
    model = _ident(parsed.model or assembled.model)
    messages = parsed.messages
    usage = assembled.usage
    return RequestRecord(
        exchange=_with_stream_error(exchange, assembled),
        model=model,
        is_streaming=parsed.is_streaming,
        session_id=_ident(
            exchange.request_header("x-claude-code-session-id")
            or session_id(parsed.field("metadata"))
        ),
        agent_id=_ident(exchange.request_header("x-claude-code-agent-id")),
        parent_agent_id=_ident(exchange.request_header("x-claude-code-parent-agent-id")),
        response_message=assembled.message,
        usage=usage,
        stop_reason=_ident(assembled.stop_reason),
        ratelimit=tuple(
            (k, v)
            for k, v in exchange.response_headers
            if k.lower().startswith(_RATELIMIT_PREFIXES)
        ),
        cost_usd_micros=cost(model, usage, exchange.started_at_ms) if cost else None,
        user_preview=_preview(last_user_text(messages)),
        reply_preview=_preview(assembled.text or _error_text(assembled)),
        message_count=len(messages),
        tool_count=len(parsed.tools),
        tool_use_count=len(assembled.tool_uses),
        parsed_request=parsed,
    )


def _with_stream_error(exchange: Exchange, assembled: Assembled) -> Exchange:
    """A 2xx stream that ended in ``event: error`` failed, whatever its status says: the call is
    recorded as a ``stream_error`` with the event's type and message."""
    if (
        assembled.error_type is None
        or exchange.outcome is not Outcome.COMPLETE
        or exchange.status is None
        or exchange.status >= 400
    ):
        return exchange
    return replace(exchange, outcome=Outcome.STREAM_ERROR, error=_error_text(assembled))


def _assemble(exchange: Exchange) -> Assembled:
    body = decoded_response_body(exchange)
    if not body:
        return Assembled()
    content_type = exchange.response_header("content-type") or ""
    if "text/event-stream" in content_type:
        return assemble_sse(body)
    return assemble_json(body)


def decoded_response_body(exchange: Exchange) -> bytes:
    """The response body without its content-encoding (the proxy passes compressed bytes through
    untouched; only the recorder needs them readable). Empty for an unknown encoding or bytes that
    do not decode (a truncated stream): the record keeps the raw bytes, nothing is parsed."""
    body = exchange.response_body
    encoding = (exchange.response_header("content-encoding") or "").strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, wbits=zlib.MAX_WBITS | 16)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, wbits=-zlib.MAX_WBITS)
        if encoding == "zstd":
            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        if encoding == "br":
            return bytes(brotli.decompress(body))
    except (zlib.error, zstandard.ZstdError, brotli.error):
        return b""
    return b""


def last_user_text(messages: list[Any]) -> str:
    """What the person typed in the last user message. Empty when that message carries none: a
    tool result, a task notification, or harness text alone (a compaction summary or prompt, a
    local-command echo, reminders: ``typed_text``). An earlier prompt is never repeated, so a
    request that only answers a tool call does not pass for another prompt."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return typed_text(text_blocks(message.get("content")))
    return ""


def _error_text(assembled: Assembled) -> str:
    if assembled.error_type:
        return f"{assembled.error_type}: {assembled.error_message or ''}"
    return ""


def _ident(value: str | None) -> str | None:
    """An identifier a client chose (model, session, agent), cut to ``IDENT_CHARS``: the columns
    holding them are indexed, and Postgres refuses an index entry past 8 KB (real ones are short)."""
    return value[:IDENT_CHARS] if value is not None and len(value) > IDENT_CHARS else value


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
