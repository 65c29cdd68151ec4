"""Turns a raw Anthropic response (an SSE stream or a JSON body) into the final message.

This module owns parsing of the Messages API wire format for the recorder: it rebuilds the message
a non-streaming call would have returned (text, thinking with signature, tool_use with its input
joined from ``input_json_delta`` partials), the usage, stop reason and any error. It never raises on
bad input: unknown events are ignored, malformed data lines skipped, and a truncated stream gives a
partial message with ``is_complete`` False. It does not decompress bodies or read headers.

Speed matters (it runs for every recorded call): complete events are cut on blank lines with bytes
methods, all data lines of a batch are parsed by one ``orjson.loads`` of a JSON array, and only a
malformed batch falls back to one parse per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from nexus.records import Usage

__all__ = ["Assembled", "SseAssembler", "assemble_json", "assemble_sse"]

# Anchored on the newline before it (each region is given a leading one), which is about twice as
# fast as a MULTILINE "^" and just as exact: JSON text never holds a raw newline.
_DATA_LINE = re.compile(rb"\ndata:[ ]?([^\n]*)")

# The delta types that append to a block's main string, and the field that carries the string.
_PART_FIELD = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
}


@dataclass(frozen=True, slots=True)
class Assembled:
    """What the recorder keeps of one response body."""

    message: bytes | None = None  # the final message as JSON, shaped like a non-streaming response
    usage: Usage = Usage()
    model: str | None = None
    stop_reason: str | None = None
    is_complete: bool = False  # a stream that reached message_stop, or a whole message body
    error_type: str | None = None
    error_message: str | None = None
    text: str = ""  # every assistant text block, joined by newlines (for previews and search)
    tool_uses: tuple[tuple[str, str, bytes], ...] = ()  # (id, name, input as JSON bytes)


class SseAssembler:
    """Assembles a stream fed in chunks split anywhere (mid-line, mid-UTF-8 sequence)."""

    __slots__ = ("_buffer", "_pending_cr", "_message", "_blocks", "_complete", "_error")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending_cr = False  # a chunk ended in "\r": the next may start with its "\n"
        self._message: dict[str, Any] | None = None
        self._blocks: dict[int, _Block] = {}
        self._complete = False
        self._error: tuple[str | None, str | None] | None = None

    def feed(self, chunk: bytes) -> None:
        if not chunk and not self._pending_cr:
            return
        if self._pending_cr or b"\r" in chunk:
            chunk = self._normalise_newlines(chunk)
        start = max(0, len(self._buffer) - 1)
        self._buffer += chunk
        end = self._buffer.rfind(b"\n\n", start)
        if end < 0:
            return
        region = bytes(self._buffer[: end + 2])
        del self._buffer[: end + 2]
        self._consume(region)

    def finish(self) -> Assembled:
        """The result so far; a trailing event without its blank line still counts."""
        if self._pending_cr:
            self._pending_cr = False
            self._buffer += b"\n"
        if self._buffer:
            region = bytes(self._buffer)
            self._buffer.clear()
            self._consume(region)
        return self._result()

    def _normalise_newlines(self, chunk: bytes) -> bytes:
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            self._pending_cr = True
            chunk = chunk[:-1]
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _consume(self, region: bytes) -> None:
        lines = _DATA_LINE.findall(b"\n" + region)
        if not lines:
            return
        try:
            events = orjson.loads(b"[" + b",".join(lines) + b"]")
        except orjson.JSONDecodeError:
            events = None
        if not isinstance(events, list) or len(events) != len(lines):
            # A malformed line: parse one by one so it alone is skipped (and cannot merge with
            # its neighbours into something that parses as an array).
            events = [_loads_or_none(line) for line in lines]
        blocks = self._blocks
        for event in events:
            if not isinstance(event, dict):
                continue
            # Deltas are nearly every event of a long stream: keep their path short.
            if event.get("type") == "content_block_delta":
                block = blocks.get(event.get("index"))  # type: ignore[arg-type]
                delta = event.get("delta")
                if block is None or not isinstance(delta, dict):
                    continue
                field = _PART_FIELD.get(delta.get("type"))  # type: ignore[arg-type]
                if field is not None:
                    part = delta.get(field)
                    if isinstance(part, str):
                        block.parts.append(part)
                else:
                    block.add(delta)
            else:
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_start":
            index, start = event.get("index"), event.get("content_block")
            if isinstance(index, int) and isinstance(start, dict):
                self._blocks[index] = _Block(start)
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self._message = message
        elif kind == "message_delta":
            self._apply_message_delta(event)
        elif kind == "message_stop":
            self._complete = True
        elif kind == "error":
            self._error = _error_fields(event)

    def _apply_message_delta(self, event: dict[str, Any]) -> None:
        if self._message is None:
            self._message = {}
        delta = event.get("delta")
        if isinstance(delta, dict):
            for key, value in delta.items():
                self._message[key] = value
        usage = event.get("usage")
        if isinstance(usage, dict):
            merged = self._message.get("usage")
            merged = dict(merged) if isinstance(merged, dict) else {}
            merged.update((k, v) for k, v in usage.items() if v is not None)
            self._message["usage"] = merged

    def _result(self) -> Assembled:
        error_type, error_message = self._error or (None, None)
        if self._message is None and not self._blocks:
            return Assembled(error_type=error_type, error_message=error_message)
        message = dict(self._message or {})
        message["content"] = [self._blocks[i].final() for i in sorted(self._blocks)]
        message.setdefault("stop_reason", None)
        message.setdefault("stop_sequence", None)
        return _from_message(message, self._complete, error_type, error_message)


class _Block:
    """One content block being streamed: its start fields plus the deltas joined so far."""

    __slots__ = ("start", "parts", "signature", "citations")

    def __init__(self, start: dict[str, Any]) -> None:
        self.start = start
        self.parts: list[str] = []
        self.signature: list[str] = []
        self.citations: list[Any] = []

    def add(self, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "signature_delta":
            self.signature.append(delta.get("signature") or "")
        elif kind == "citations_delta":
            self.citations.append(delta.get("citation"))

    def final(self) -> dict[str, Any]:
        block = dict(self.start)
        kind = block.get("type")
        if kind == "text":
            block["text"] = (block.get("text") or "") + "".join(self.parts)
            if self.citations:
                block["citations"] = [*(block.get("citations") or ()), *self.citations]
        elif kind == "thinking":
            block["thinking"] = (block.get("thinking") or "") + "".join(self.parts)
            block["signature"] = (block.get("signature") or "") + "".join(self.signature)
        elif "input" in block or kind in ("tool_use", "server_tool_use"):
            raw = "".join(self.parts)
            if raw:
                try:
                    block["input"] = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    block["input"] = raw  # keep what was sent; the caller can still show it
        return block


def assemble_sse(raw: bytes) -> Assembled:
    """Assemble a whole raw SSE stream."""
    assembler = SseAssembler()
    assembler.feed(raw)
    return assembler.finish()


def assemble_json(raw: bytes) -> Assembled:
    """Assemble a non-streaming Messages response body, or read an Anthropic error body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Assembled()
    if not isinstance(body, dict):
        return Assembled()
    if body.get("type") == "error" or ("error" in body and "content" not in body):
        error_type, error_message = _error_fields(body)
        return Assembled(error_type=error_type, error_message=error_message)
    content = body.get("content")
    if not isinstance(content, list):
        return Assembled(model=_str_or_none(body.get("model")))
    return _from_message(body, body.get("type") == "message", None, None)


def _from_message(
    message: dict[str, Any], is_complete: bool, error_type: str | None, error_message: str | None
) -> Assembled:
    texts: list[str] = []
    tool_uses: list[tuple[str, str, bytes]] = []
    for block in message.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind in ("tool_use", "server_tool_use"):
            value = block.get("input")
            encoded = value.encode() if isinstance(value, str) else _dumps(value) or b""
            tool_uses.append((str(block.get("id") or ""), str(block.get("name") or ""), encoded))
    return Assembled(
        message=_dumps(message),
        usage=usage_from(message.get("usage")),
        model=_str_or_none(message.get("model")),
        stop_reason=_str_or_none(message.get("stop_reason")),
        is_complete=is_complete,
        error_type=error_type,
        error_message=error_message,
        text="\n".join(texts),
        tool_uses=tuple(tool_uses),
    )


def usage_from(raw: object) -> Usage:
    """Usage from an Anthropic ``usage`` object. Without a 5m/1h split, cache writes count as 5m,
    the API's default lifetime."""
    if not isinstance(raw, dict):
        return Usage()
    creation = _int(raw.get("cache_creation_input_tokens"))
    split = raw.get("cache_creation")
    if isinstance(split, dict):
        five_m = _int(split.get("ephemeral_5m_input_tokens"))
        one_h = _int(split.get("ephemeral_1h_input_tokens"))
    else:
        five_m, one_h = creation, 0
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cache_creation_input_tokens=creation,
        cache_creation_5m_tokens=five_m,
        cache_creation_1h_tokens=one_h,
        cache_read_input_tokens=_int(raw.get("cache_read_input_tokens")),
    )


def _error_fields(body: dict[str, Any]) -> tuple[str | None, str | None]:
    error = body.get("error")
    if isinstance(error, dict):
        return _str_or_none(error.get("type")) or "error", _str_or_none(error.get("message"))
    if isinstance(error, str):
        return "error", error
    return "error", None


def _dumps(value: object) -> bytes | None:
    """JSON of a parsed value; None past orjson's depth limit (254: a parse takes 1024)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return None


def _loads_or_none(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
