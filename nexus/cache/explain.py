"""Why a request broke the cache: one cause, the first of this order that applies.

model changed · TTL expired · tools changed · system changed · thinking / tool_choice changed ·
breakpoints moved · history edited · none visible. Everything is decided on the two prints
(``prompt.py``: content hashes, sizes, breakpoint marks); only the wording of a system or message
change reads the two texts (``describe``), and only for that one segment. The causes themselves
are ``nexus.records.CacheCause``; what a user can do about each is docs/cache.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from nexus import numbers
from nexus.cache.detect import TTL_1H_MS, Miss
from nexus.cache.prompt import PromptPrint, Segment, tool_name
from nexus.records import CacheCause
from nexus.wire import (
    REMINDER_OPEN,
    content_blocks,
    strip_reminders,
    system_texts,
    tool_result_text,
)

LOOKBACK_BLOCKS = 20  # the API looks for an entry at most this many blocks before a breakpoint
_SNIPPET = 60
_TOOLS_EDITED = "tools: a schema edited"


@dataclass(frozen=True, slots=True)
class Finding:
    cause: CacheCause
    detail: str
    segment: int | None = None  # the first differing segment (system and history causes)

    @property
    def needs_texts(self) -> bool:
        """Whether ``describe`` can say more with the two texts of ``segment``."""
        if self.cause == CacheCause.TOOLS_CHANGED:
            return self.detail == _TOOLS_EDITED  # names alike: which schema changed?
        return self.segment is not None and self.cause in (
            CacheCause.SYSTEM_CHANGED,
            CacheCause.HISTORY_EDITED,
        )


def find_cause(p: PromptPrint, r: PromptPrint, miss: Miss) -> Finding:
    end = miss.expected.end
    if p.model != r.model:
        return Finding(CacheCause.MODEL_CHANGED, f"model {p.model} → {r.model}")
    gap = r.started_at_ms - p.ended_at_ms
    if gap > miss.expected.ttl_ms:
        life = "1 h" if miss.expected.ttl_ms == TTL_1H_MS else "5 min"
        return Finding(
            CacheCause.TTL_EXPIRED,
            f"idle {numbers.duration(gap)} after the previous request (cache lifetime {life})",
        )
    first = _first_difference(p.segments, r.segments, end)
    kinds = {s.kind for s in (_at(p.segments, first), _at(r.segments, first)) if s is not None}
    if first is not None and "tool" in kinds:
        return Finding(CacheCause.TOOLS_CHANGED, _tools_detail(p, r))
    if first is not None and "system" in kinds:
        segment = _at(r.segments, first) or _at(p.segments, first)
        assert segment is not None
        count = len(r.of_kind("system"))
        return Finding(
            CacheCause.SYSTEM_CHANGED,
            f"system block {segment.ordinal + 1} of {count} changed",
            first,
        )
    if p.thinking != r.thinking or p.tool_choice != r.tool_choice:
        return Finding(CacheCause.SETTINGS_CHANGED, _settings_detail(p, r))
    moved = _breakpoint_detail(r, end) if first is None else None
    if moved is not None:
        return Finding(CacheCause.BREAKPOINTS_MOVED, moved)
    if first is not None:
        return Finding(CacheCause.HISTORY_EDITED, _history_detail(p, r, first), first)
    return Finding(
        CacheCause.NONE_VISIBLE,
        "the prefix was identical to the previous request's and the server still missed",
    )


def _first_difference(p: Sequence[Segment], r: Sequence[Segment], end: int) -> int | None:
    for i in range(end):
        a, b = _at(p, i), _at(r, i)
        if a is None or b is None or a.kind != b.kind or a.digest != b.digest:
            return i
    return None


def _at(segments: Sequence[Segment], i: int | None) -> Segment | None:
    return segments[i] if i is not None and 0 <= i < len(segments) else None


def _tools_detail(p: PromptPrint, r: PromptPrint) -> str:
    before, after = p.tool_names, r.tool_names
    parts = []
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    if added:
        parts.append("added " + _names(added))
    if removed:
        parts.append("removed " + _names(removed))
    if [n for n in before if n in after] != [n for n in after if n in before]:
        parts.append("reordered")
    return "tools " + "; ".join(parts) if parts else _TOOLS_EDITED


def _names(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _settings_detail(p: PromptPrint, r: PromptPrint) -> str:
    parts = []
    if p.thinking != r.thinking:
        parts.append(f"thinking {p.thinking or 'unset'} → {r.thinking or 'unset'}")
    if p.tool_choice != r.tool_choice:
        parts.append(f"tool_choice {p.tool_choice or 'unset'} → {r.tool_choice or 'unset'}")
    return "; ".join(parts)


def _breakpoint_detail(r: PromptPrint, end: int) -> str | None:
    """Why R's own breakpoints cannot reach the entry at ``end``, or None when they can: the API
    looks for an entry from each breakpoint back over at most ``LOOKBACK_BLOCKS`` blocks."""
    distance = 0  # content blocks after the cached prefix, up to and including the segment
    for j in range(end - 1, len(r.segments)):
        if j >= end:
            distance += r.segments[j].blocks
        if r.segments[j].breakpoint is not None:
            if distance <= LOOKBACK_BLOCKS:
                return None
            return (
                f"the nearest cache_control is {distance} content blocks after the cached prefix "
                f"(the API looks back at most {LOOKBACK_BLOCKS})"
            )
    return "no cache_control at or after the prefix the previous request cached"


def _history_detail(p: PromptPrint, r: PromptPrint, first: int) -> str:
    a, b = _at(p.segments, first), _at(r.segments, first)
    if a is None or b is None:
        return "history changed"
    position = f"message {b.ordinal + 1} ({b.label})"
    nxt_p, nxt_r = _at(p.segments, first + 1), _at(r.segments, first + 1)
    if nxt_p is not None and nxt_p.digest == b.digest:
        return f"message {a.ordinal + 1} ({a.label}) removed"
    if nxt_r is not None and nxt_r.digest == a.digest:
        return f"{position} inserted"
    if a.label != b.label:
        return f"{position} replaced a {a.label} message"
    return f"{position} rewritten"


def describe(finding: Finding, p_body: dict[str, Any] | None, r_body: dict[str, Any] | None) -> str:
    """The finding's detail, with a short diff of the one segment that changed."""
    if not finding.needs_texts or p_body is None or r_body is None:
        return finding.detail
    if finding.cause == CacheCause.TOOLS_CHANGED:
        old_tools, new_tools = _tool_bytes(p_body), _tool_bytes(r_body)
        edited = [n for n, data in new_tools.items() if n in old_tools and old_tools[n] != data]
        return f"tools: schema edited: {_names(edited)}" if edited else finding.detail
    if finding.cause == CacheCause.SYSTEM_CHANGED:
        blocks_p, blocks_r = system_texts(p_body.get("system")), system_texts(r_body.get("system"))
        index = _index_in_kind(finding.detail)
        if 0 <= index < len(blocks_p) and index < len(blocks_r):
            return f"{finding.detail}: {short_diff(blocks_p[index], blocks_r[index])}"
        return finding.detail
    if not finding.detail.endswith("rewritten"):
        return finding.detail
    index = _index_in_kind(finding.detail)
    old_messages, new_messages = _messages(p_body), _messages(r_body)
    if not 0 <= index < min(len(old_messages), len(new_messages)):
        return finding.detail
    old, new = _message_text(old_messages[index]), _message_text(new_messages[index])
    if _words(strip_reminders(old)) == _words(strip_reminders(new)):
        more = new.count(REMINDER_OPEN) - old.count(REMINDER_OPEN)
        how = "injected" if more > 0 else "removed" if more < 0 else "changed"
        return finding.detail.replace("rewritten", f"edited: a <system-reminder> {how}")
    return f"{finding.detail}: {short_diff(old, new)}"


def _words(text: str) -> list[str]:
    return text.split()


def _index_in_kind(detail: str) -> int:
    """The 0-based index a detail names ("system block 3 of 3", "message 7 (user)")."""
    words = detail.split()
    for word, number in zip(words, words[1:], strict=False):
        if word in ("block", "message") and number.isdigit():
            return int(number) - 1
    return -1


def short_diff(old: str, new: str) -> str:
    """What changed between two texts, cut to a line: ``"…before" → "…after"``."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    context = max(0, start - 20)
    space = next((i for i in range(context, start) if old[i].isspace()), None)
    if context and space is not None:  # begin the context at a word
        context = space + 1
    removed = old[context : len(old) - end]
    added = new[context : len(new) - end]
    return f"{_quote(removed, context > 0)} → {_quote(added, context > 0)}"


def _quote(text: str, cut_before: bool) -> str:
    text = " ".join(text.split())
    if len(text) > _SNIPPET:
        text = text[:_SNIPPET] + "…"
    return '"' + ("…" if cut_before else "") + text + '"'


def _tool_bytes(body: dict[str, Any]) -> dict[str, bytes]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return {}
    return {tool_name(tool, i): orjson.dumps(tool) for i, tool in enumerate(tools)}


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else message
    parts = []
    for block in content_blocks(content):
        if block.kind in ("text", "thinking"):
            parts.append(block.text)
        elif block.kind == "tool_result":
            parts.append(tool_result_text(block.content))
        elif block.type == "tool_use":
            parts.append(orjson.dumps(block.input).decode())
    return "\n".join(parts)
