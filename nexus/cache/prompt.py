"""What the prompt cache sees of one request: its prompt as a row of segments, each hashed once.

The API caches a prompt's prefix in a fixed order: tools, then system, then messages, and writes
an entry at every ``cache_control`` breakpoint. A ``PromptPrint`` lists that order as segments (one
per tool, per system block, per message), each with the hash of its bytes *without* its
``cache_control`` (a breakpoint is not content: Claude Code moves the one on the last message
forward every turn), its size, its content-block count and the lifetime its breakpoint asks for.
Comparing two prints is comparing hashes; no body is parsed for it. The sole owner of that shape:
detection and explanation read prints, never bodies (``explain.describe`` reads the two texts only
to word a change it has already found).

Most requests do not break the cache, and deciding that needs only a ``PromptOutline``: how many
segments a prompt has and where its breakpoints are, read from the parsed body's keys without
serialising or hashing anything. The recorder outlines every request and prints the two of a break
only (``ledger.py``); both take their segments and breakpoints from ``_segment_plan``, so an outline
is exactly what the print would say (a test compares them).

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

    @property
    def segment_count(self) -> int:
        return len(self.segments)

    def ttl_at(self, end: int) -> str | None:
        """The lifetime the breakpoint closing the prefix of ``end`` segments asks for."""
        return self.segments[end - 1].breakpoint

    @property
    def outline(self) -> PromptOutline:
        ends = tuple((i + 1, s.breakpoint) for i, s in enumerate(self.segments) if s.breakpoint)
        return PromptOutline(self.request_id, self.model, self.started_at_ms, self.ended_at_ms,
                             self.usage, len(self.segments), ends)  # fmt: skip

    def prefix_bytes(self, end: int) -> int:
        return sum(s.size for s in self.segments[:end])

    def of_kind(self, kind: SegmentKind) -> list[Segment]:
        return [s for s in self.segments if s.kind == kind]


@dataclass(frozen=True, slots=True)
class PromptOutline:
    """What deciding whether a request broke the cache reads of it (``detect.py``): its segment
    count and breakpoints, no content. Cheap enough to make for every request the recorder stores."""

    request_id: str
    model: str | None
    started_at_ms: int
    ended_at_ms: int
    usage: Usage
    segment_count: int
    breakpoints: tuple[tuple[int, str], ...]  # (prefix length in segments, "5m" | "1h")

    @property
    def breakpoint_ends(self) -> list[int]:
        return [end for end, _ in self.breakpoints]

    def ttl_at(self, end: int) -> str | None:
        return next((ttl for e, ttl in self.breakpoints if e == end), None)


def outline_prompt(
    request_id: str,
    parsed: ParsedRequest,
    *,
    started_at_ms: int,
    ended_at_ms: int,
    usage: Usage,
) -> PromptOutline:
    """The outline of a parsed request body: what ``print_prompt`` would say of its segments and
    breakpoints, without serialising or hashing them."""
    tools, system, messages = parsed.tools, parsed.field("system"), parsed.messages
    per_tool, tool_ttls, system_ttls, message_ttls = _segment_plan(tools, system, messages)
    breakpoints: list[tuple[int, str]] = []
    count = 0
    if tools:
        if per_tool:
            breakpoints += [(count + i + 1, t) for i, t in enumerate(tool_ttls) if t is not None]
            count += len(tools)
        else:
            count += 1
    breakpoints += [(count + i + 1, t) for i, t in enumerate(system_ttls) if t is not None]
    count += len(system_ttls)
    breakpoints += [(count + i + 1, t) for i, t in enumerate(message_ttls) if t is not None]
    count += len(message_ttls)
    return PromptOutline(request_id, parsed.model, started_at_ms, ended_at_ms, usage, count,
                         tuple(breakpoints))  # fmt: skip


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
    tools, system, messages = parsed.tools, parsed.field("system"), parsed.messages
    per_tool, tool_ttls, system_ttls, message_ttls = _segment_plan(tools, system, messages)
    names = tuple(tool_name(tool, i) for i, tool in enumerate(tools))
    if tools:
        if per_tool:  # a breakpoint among the tools: each tool is a segment
            for index, tool in enumerate(tools):
                segments.append(_segment("tool", index, tool, names[index], 1, tool_ttls[index]))
        else:
            whole = orjson.dumps(tools)
            segments.append(Segment("tool", 0, hash(whole), len(whole), len(tools), None, ""))
    if isinstance(system, str):
        segments.append(_segment("system", 0, _text_block(system), "", 1, None))
    elif isinstance(system, list):
        for index, block in enumerate(system):
            segments.append(_segment("system", index, block, "", 1, system_ttls[index]))
    dumps = orjson.dumps  # the hot loop: a hundred messages per Claude Code turn
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            role, content = str(message.get("role") or "?"), message.get("content")
        else:
            role, content = "?", None
        blocks = len(content) if isinstance(content, list) else 1
        if isinstance(content, str):  # as the API reads it (see _text_block)
            message = {**message, "content": [_text_block(content)]}
        ttl = message_ttls[index]
        if ttl is not None:
            segments.append(_segment("message", index, message, role, blocks, ttl))
        else:
            data = dumps(message)
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


def _segment(
    kind: SegmentKind, index: int, value: Any, label: str, blocks: int, ttl: str | None
) -> Segment:
    if ttl is not None:  # a breakpoint is not content: hashed without it
        value = _without_breakpoints(value)
    data = orjson.dumps(value)
    return Segment(kind, index, hash(data), len(data), blocks, ttl, label)


def _segment_plan(
    tools: list[Any], system: Any, messages: list[Any]
) -> tuple[bool, list[str | None], list[str | None], list[str | None]]:
    """Whether the tools are one segment each (one of them carries a breakpoint), and the
    breakpoint lifetime of each tool, system block and message (None: no breakpoint). A string
    ``system`` is one block without one. The one place prints and outlines learn them from."""
    tool_ttls = [
        _breakpoint(tool) if isinstance(tool, dict) and ("cache_control" in tool or "content" in tool)
        else None
        for tool in tools
    ]  # fmt: skip
    if isinstance(system, list):
        system_ttls = [_breakpoint(block) for block in system]
    else:
        system_ttls = [None] if isinstance(system, str) else []
    message_ttls: list[str | None] = []
    for message in messages:  # the hot loop: most messages and blocks carry no breakpoint
        marked = False
        if isinstance(message, dict):
            if "cache_control" in message:
                marked = True
            else:
                content = message.get("content")
                if isinstance(content, list):
                    for block in content:
                        if isinstance(block, dict) and "cache_control" in block:
                            marked = True
                            break
        message_ttls.append(_breakpoint(message) if marked else None)
    return any(t is not None for t in tool_ttls), tool_ttls, system_ttls, message_ttls


def _breakpoint(value: Any) -> str | None:
    """The longest lifetime the ``cache_control`` on ``value`` itself or on its content blocks
    asks for (where the API reads breakpoints), None when there is none."""
    if not isinstance(value, dict):
        return None
    ttls = [_ttl(value["cache_control"])] if "cache_control" in value else []
    content = value.get("content")
    if isinstance(content, list) and content:
        ttls += [
            _ttl(b["cache_control"])
            for b in content
            if isinstance(b, dict) and "cache_control" in b
        ]
    if not ttls:
        return None
    return "1h" if "1h" in ttls else "5m"


def _ttl(control: Any) -> str:
    ttl = control.get("ttl") if isinstance(control, dict) else None
    return "1h" if ttl == "1h" else "5m"


def _without_breakpoints(value: Any) -> Any:
    """The value without ``cache_control`` on itself or its content blocks."""

    def strip(item: Any) -> Any:
        if not isinstance(item, dict) or "cache_control" not in item:
            return item
        return {k: v for k, v in item.items() if k != "cache_control"}

    value = strip(value)
    if isinstance(value, dict) and isinstance(value.get("content"), list):
        value = {**value, "content": [strip(block) for block in value["content"]]}
    return value


def _setting(value: Any) -> str:
    if value is None:
        return ""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _SETTINGS_CHARS else text[: _SETTINGS_CHARS - 1] + "…"
