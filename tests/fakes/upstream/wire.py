"""The Messages API wire format as the fake speaks it: what a request and a scripted reply hold, and
the pure functions that encode a reply (SSE events framed as Anthropic frames them, a JSON body, an
error body). Tests of Nexus's parser use the encoders directly. Nothing here touches a socket.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from nexus.records import Usage
from tests.fakes.upstream.cache import PromptTokens

Headers = tuple[tuple[str, str], ...]
Responder = Callable[["SeenRequest"], "Reply"]

DEFAULT_MODEL = "claude-opus-4-8"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}
UNPARSED: Any = object()


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the fake received it. Header names keep their original case."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    parsed: Any = field(default=UNPARSED, repr=False, compare=False)  # the body, parsed once
    target: str = ""  # the request target as received: path and query still percent-encoded

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def json(self) -> Any:
        """The body parsed, or None when it is not JSON."""
        if self.parsed is not UNPARSED:
            return self.parsed
        return loads_or_none(self.body)


@dataclass(frozen=True, slots=True)
class SeenResponse:
    """What the fake sent back (kept when ``record_responses`` is on). ``body`` holds the bytes
    actually written: a dropped connection leaves it short."""

    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str | None = None  # None: a fresh toolu_... id


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. Defaults make a plain successful text reply."""

    text: str = ""
    thinking: str | None = None
    signature: str | None = None  # None with thinking: derived from the thinking text
    tool_uses: tuple[ToolUse, ...] = ()
    stop_reason: str | None = None  # None: "tool_use" when tool_uses else "end_turn"
    model: str | None = None  # None: the request's model
    usage: Usage | None = None  # None: plausible counts from the request and reply sizes
    status: int = 200
    error_type: str | None = None  # None: derived from status (529 overloaded_error, ...)
    error_message: str | None = None
    retry_after: str | None = None  # None: "1" on 429
    headers: Headers = ()  # extra response headers (rate-limit headers, ...)
    stream: bool | None = None  # None: as the request's "stream" field says
    delay_before_headers_s: float = 0.0
    delay_between_events_s: float = 0.0
    reset_after_events: int | None = None  # close the connection after N events (0: no response)
    error_event_after: int | None = None  # send ``event: error`` after N events and end
    chunk_size: int | None = None  # write each event in pieces of this many bytes
    text_chunk_chars: int = 40  # characters per text_delta
    raw_body: bytes | None = None  # send these bytes as the body instead of building one
    content_type: str | None = None  # with raw_body
    gzip: bool = False  # gzip a successful non-streaming body (content-encoding: gzip)

    @property
    def is_error(self) -> bool:
        return self.status >= 400 or (
            self.error_type is not None and self.error_event_after is None
        )


def encode_stream(reply: Reply, model: str, input_tokens: int | PromptTokens) -> list[bytes]:
    """The SSE events of a successful reply, one ``bytes`` per event, framed as Anthropic does.
    ``input_tokens``: a count, or the input side of usage as the fake's prompt cache answered it."""
    usage = _usage_for(reply, input_tokens)
    start_usage = _usage_json(usage, output_tokens=1)
    events = [
        sse_event(
            b"message_start",
            {
                "type": "message_start",
                "message": {
                    "id": new_id("msg_"),
                    "type": "message",
                    "role": "assistant",
                    "model": reply.model or model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
    ]
    for index, block in enumerate(_blocks(reply)):
        kind = block["type"]
        start = dict(block)
        if kind == "text":
            start["text"] = ""
        elif kind == "thinking":
            start["thinking"], start["signature"] = "", ""
        elif kind == "tool_use":
            start["input"] = {}
        events.append(
            sse_event(
                b"content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        if index == 0:
            events.append(_PING)
        events.extend(_block_deltas(index, block, reply.text_chunk_chars))
        events.append(
            sse_event(b"content_block_stop", {"type": "content_block_stop", "index": index})
        )
    events.append(
        sse_event(
            b"message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": usage.output_tokens},
            },
        )
    )
    events.append(_MESSAGE_STOP)
    return events


def encode_json(reply: Reply, model: str, input_tokens: int | PromptTokens) -> bytes:
    """The non-streaming body of a successful reply."""
    return orjson.dumps(
        {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or model,
            "content": _blocks(reply),
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": _usage_json(_usage_for(reply, input_tokens)),
        }
    )


def error_body(error_type: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})


def sse_event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


_PING = sse_event(b"ping", {"type": "ping"})
_MESSAGE_STOP = sse_event(b"message_stop", {"type": "message_stop"})


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking is not None:
        signature = reply.signature or _signature_for(reply.thinking)
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
    if reply.text or not (reply.tool_uses or blocks):
        blocks.append({"type": "text", "text": reply.text})
    for tool in reply.tool_uses:
        blocks.append(
            {
                "type": "tool_use",
                "id": tool.id or new_id("toolu_"),
                "name": tool.name,
                "input": tool.input,
            }
        )
    return blocks


def _block_deltas(index: int, block: dict[str, Any], chunk_chars: int) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        return [
            _delta(index, {"type": "text_delta", "text": piece})
            for piece in _pieces(block["text"], chunk_chars)
        ]
    if kind == "thinking":
        deltas = [
            _delta(index, {"type": "thinking_delta", "thinking": piece})
            for piece in _pieces(block["thinking"], chunk_chars)
        ]
        deltas.append(_delta(index, {"type": "signature_delta", "signature": block["signature"]}))
        return deltas
    # The real API opens every tool input with an empty partial, then streams fragments.
    raw = orjson.dumps(block["input"]).decode()
    parts = ["", *_pieces(raw, max(1, len(raw) // 3 + 1))]
    return [_delta(index, {"type": "input_json_delta", "partial_json": part}) for part in parts]


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse_event(
        b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _pieces(text: str, size: int) -> list[str]:
    if not text:
        return []
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")


def _usage_for(reply: Reply, input_tokens: int | PromptTokens) -> Usage:
    if reply.usage is not None:
        return reply.usage
    out = (len(reply.text) + len(reply.thinking or "")) // 4 + 8 * len(reply.tool_uses) + 1
    if isinstance(input_tokens, int):
        return Usage(input_tokens=input_tokens, output_tokens=out)
    return Usage(
        input_tokens=input_tokens.input_tokens,
        output_tokens=out,
        cache_creation_input_tokens=input_tokens.cache_creation_input_tokens,
        cache_creation_5m_tokens=input_tokens.cache_creation_5m_tokens,
        cache_creation_1h_tokens=input_tokens.cache_creation_1h_tokens,
        cache_read_input_tokens=input_tokens.cache_read_input_tokens,
    )


def _usage_json(usage: Usage, output_tokens: int | None = None) -> dict[str, Any]:
    creation = usage.cache_creation_input_tokens or (
        usage.cache_creation_5m_tokens + usage.cache_creation_1h_tokens
    )
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_creation_1h_tokens,
        },
        "output_tokens": usage.output_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
    }


def _signature_for(thinking: str) -> str:
    digest = hashlib.sha256(thinking.encode()).digest()
    return base64.b64encode(digest * 6).decode()


def new_id(prefix: str) -> str:
    raw = int.from_bytes(os.urandom(18), "big")
    chars = []
    for _ in range(22):
        raw, rest = divmod(raw, 62)
        chars.append(_B62[rest])
    return prefix + "01" + "".join(chars)


def estimate_tokens(body: bytes) -> int:
    return max(1, len(body) // 4)


def loads_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
