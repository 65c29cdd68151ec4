"""What the prompt cache sees of one request: its prompt as a row of segments, each hashed once.

The API caches a prompt's prefix in a fixed order: tools, then system, then messages, and writes
an entry at every ``cache_control`` breakpoint. A ``PromptPrint`` lists that order as segments (one
per tool, per system block, per message), each with the hash of its bytes *without* its
``cache_control`` (a breakpoint is not content: Claude Code moves the one on the last message
forward every turn), its size, its content-block count and the lifetime its breakpoint asks for.
Comparing two prints is comparing hashes; no body is parsed for it. The sole owner of that shape:
detection and explanation read prints, never bodies (``explain.describe`` reads the two texts only
to word a change it has already found).

Digests are Python's own hash of the bytes (SipHash, 64 bits, seeded per process): prints are
never stored, only compared inside the process that made them, so the seed does no harm, and the
hash costs a sixth of blake2b's on the ~200 KB a Claude Code turn sends (the recorder's budget).
The tool list is one segment (it is the same bytes turn after turn) unless a tool carries a
breakpoint; ``tool_names`` keeps the names for the detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson

from nexus.records import Usage
from nexus.wire import ParsedRequest

SegmentKind = Literal["tool", "system", "message"]
_MARK = b'"cache_control"'
_SETTINGS_CHARS = 200  # a thinking / tool_choice value kept for the detail line, cut to this


class Segment(NamedTuple):
    """One cacheable unit. A NamedTuple, not a frozen dataclass: a Claude Code turn has a hundred
    of them, and a frozen dataclass's ``__init__`` cost more than hashing their bytes."""

    kind: SegmentKind
    ordinal: int  # within its kind: tool 0, 1 …; system block 0 …; message 0 …
    digest: int  # hash of the bytes without cache_control (in-process: see the module doc)
    size: int  # those bytes
    blocks: int  # content blocks (the API's breakpoint look-back counts blocks)
    breakpoint: str | None  # "5m" | "1h" when the segment carries cache_control
    label: str  # a tool's name ("" for the whole list), a message's role, "" for a system block


@dataclass(frozen=True, slots=True)
class PromptPrint:
    """A request as the cache ledger compares it: model, timing, usage and prompt segments."""

    request_id: str
    model: str | None
    started_at_ms: int
    ended_at_ms: int
    usage: Usage
    thinking: str  # the ``thinking`` value as JSON ("" when absent), cut to 200 characters
    tool_choice: str
    segments: tuple[Segment, ...]
    tool_names: tuple[str, ...] = ()

    @property
    def breakpoint_ends(self) -> list[int]:
        """Prefix lengths (in segments) at which this prompt asks for a cache entry."""
        return [i + 1 for i, s in enumerate(self.segments) if s.breakpoint is not None]

    def prefix_bytes(self, end: int) -> int:
        return sum(s.size for s in self.segments[:end])

    def of_kind(self, kind: SegmentKind) -> list[Segment]:
        return [s for s in self.segments if s.kind == kind]


def print_prompt(
    request_id: str,
    parsed: ParsedRequest,
    *,
    started_at_ms: int,
    ended_at_ms: int,
    usage: Usage,
) -> PromptPrint:
    """The print of a parsed request body (a body that is not a JSON object has no segments)."""
    segments: list[Segment] = []
    tools = parsed.tools
    names = tuple(tool_name(tool, i) for i, tool in enumerate(tools))
    if tools:
        whole = orjson.dumps(tools)
        if _MARK in whole:  # a breakpoint among the tools: each tool is a segment
            for index, tool in enumerate(tools):
                segments.append(_segment("tool", index, tool, names[index], 1))
        else:
            segments.append(Segment("tool", 0, hash(whole), len(whole), len(tools), None, ""))
    system = parsed.field("system")
    if isinstance(system, str):
        segments.append(_segment("system", 0, _text_block(system), "", 1))
    elif isinstance(system, list):
        for index, block in enumerate(system):
            segments.append(_segment("system", index, block, "", 1))
    dumps, mark = orjson.dumps, _MARK  # the hot loop: a hundred messages per Claude Code turn
    for index, message in enumerate(parsed.messages):
        if isinstance(message, dict):
            role, content = str(message.get("role") or "?"), message.get("content")
        else:
            role, content = "?", None
        blocks = len(content) if isinstance(content, list) else 1
        if isinstance(content, str):  # as the API reads it (see _text_block)
            message = {**message, "content": [_text_block(content)]}
        data = dumps(message)
        if mark in data:
            segments.append(_segment("message", index, message, role, blocks))
        else:
            segments.append(Segment("message", index, hash(data), len(data), blocks, None, role))
    return PromptPrint(
        request_id=request_id,
        model=parsed.model,
        started_at_ms=started_at_ms,
        ended_at_ms=ended_at_ms,
        usage=usage,
        thinking=_setting(parsed.field("thinking")),
        tool_choice=_setting(parsed.field("tool_choice")),
        segments=tuple(segments),
        tool_names=names,
    )


def _text_block(text: str) -> dict[str, str]:
    """A string ``system`` or ``content`` as the API reads it: one text block. Claude Code sends
    the same message as a block while it carries a breakpoint and as a string after."""
    return {"type": "text", "text": text}


def tool_name(tool: Any, index: int) -> str:
    name = tool.get("name") if isinstance(tool, dict) else None
    return str(name) if name else f"#{index}"


def _segment(kind: SegmentKind, index: int, value: Any, label: str, blocks: int) -> Segment:
    data = orjson.dumps(value)
    ttl: str | None = None
    if _MARK in data:  # rare: the few segments that carry a breakpoint are serialised twice
        ttl, value = _without_breakpoints(value)
        data = orjson.dumps(value)
    return Segment(kind, index, hash(data), len(data), blocks, ttl, label)


def _without_breakpoints(value: Any) -> tuple[str | None, Any]:
    """The value without ``cache_control`` on itself or its content blocks, and the longest
    lifetime those breakpoints asked for."""
    ttls: list[str] = []

    def strip(item: Any) -> Any:
        if not isinstance(item, dict) or "cache_control" not in item:
            return item
        control = item["cache_control"]
        ttl = control.get("ttl") if isinstance(control, dict) else None
        ttls.append("1h" if ttl == "1h" else "5m")
        return {k: v for k, v in item.items() if k != "cache_control"}

    value = strip(value)
    if isinstance(value, dict) and isinstance(value.get("content"), list):
        value = {**value, "content": [strip(block) for block in value["content"]]}
    if not ttls:
        return None, value
    return ("1h" if "1h" in ttls else "5m"), value


def _setting(value: Any) -> str:
    if value is None:
        return ""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _SETTINGS_CHARS else text[: _SETTINGS_CHARS - 1] + "…"
