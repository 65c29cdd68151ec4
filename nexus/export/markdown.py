"""The markdown export: one conversation as a transcript a person reads top to bottom.

Threads are ``##`` sections (main, then each branch); turns are headings with their tokens, cost
and duration; tool calls and results, thinking and system reminders are folded to a few hundred
characters; sub-agents are nested block quotes right after the turn that spawned them. Every chunk
goes through ``scrub_text`` before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nexus.conversations.shape import ConversationView
from nexus.export.figures import (
    format_clock,
    format_cost,
    format_time,
    format_tokens,
    total_cost_line,
    totals,
    turn_line,
    usage_line,
)
from nexus.export.scrub import scrub_text
from nexus.export.source import ExportSource
from nexus.export.transcript import Block, Message, fold
from nexus.export.walk import ThreadEnd, ThreadStart, TurnShown, walk
from nexus.records import TrafficClass

WriteText = Callable[[str], object]

TEXT_FOLD = 4_000
TOOL_INPUT_FOLD = 800
TOOL_RESULT_FOLD = 1_200
THINKING_FOLD = 600
REMINDER_FOLD = 160


def fence(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _quote(text: str, depth: int) -> str:
    if depth == 0:
        return text
    prefix = "> " * depth
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


_HEADING = re.compile(r"^( {0,3})(#{1,6}(?:\s|$)|=+\s*$|-{3,}\s*$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def message_markdown(text: str) -> str:
    """Message text kept as markdown (lists, emphasis, code) but unable to break the transcript's
    outline: headings and setext underlines are escaped, and a code fence left open is closed."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)[0] * len(opener.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            line = _HEADING.sub(r"\1\\\2", line)
        out.append(line)
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def _block_md(block: Block) -> str:
    if block.kind == "text":
        return message_markdown(fold(block.text, TEXT_FOLD))
    if block.kind == "reminder":
        return f"*System reminder ({len(block.text):,} chars):* " + _inline(
            fold(block.text, REMINDER_FOLD)
        )
    if block.kind == "thinking":
        return "*Thinking:*\n\n" + _quote(message_markdown(fold(block.text, THINKING_FOLD)), 1)
    if block.kind == "tool_use":
        head = f"**Tool call** `{block.name}`" + (f" (`{block.tool_id}`)" if block.tool_id else "")
        return head + "\n\n" + fence(fold(block.text, TOOL_INPUT_FOLD), "json")
    if block.kind == "tool_result":
        name = f" `{block.name}`" if block.name else ""
        err = " — **error**" if block.is_error else ""
        head = f"**Tool result**{name}" + (f" (`{block.tool_id}`)" if block.tool_id else "") + err
        return head + "\n\n" + fence(fold(block.text, TOOL_RESULT_FOLD))
    if block.kind == "image":
        return f"*{block.text}*"
    return f"*{block.name or 'block'}:*\n\n" + fence(fold(block.text, TOOL_INPUT_FOLD))


def _inline(text: str) -> str:
    return " ".join(text.split())


def _message_md(message: Message) -> str:
    who = {"user": "User", "assistant": "Assistant", "system": "System"}.get(
        message.role, message.role.title()
    )
    body = "\n\n".join(_block_md(b) for b in message.blocks) or "*(empty)*"
    return f"**{who}**\n\n{body}"


def _turn_kind(cls: TrafficClass | None) -> str:
    if cls is TrafficClass.COMPACTION:
        return " · compaction (summarising call)"
    if cls is None or cls.is_agent_call:
        return ""
    return f" · {cls.value}"


def _turn_md(event: TurnShown) -> str:
    s = event.turn.summary
    level = "#" * min(6, 3 + event.depth)
    head = f"{level} Turn {event.number} · {format_clock(s.started_at_ms)} · {s.model or '?'}"
    parts = [head + _turn_kind(s.traffic_class), f"`{s.id}` · {turn_line(s)}"]
    c = event.content
    parts.extend(_message_md(m) for m in c.inputs)
    if c.output is not None:
        parts.append(_message_md(c.output))
    if c.error:
        parts.append(f"**Error:** {_inline(c.error)}")
    return _quote("\n\n".join(parts), event.depth) + "\n\n"


def _header_md(view: ConversationView, branch: str | None) -> str:
    t = totals(view)
    classes = ", ".join(f"{n} {c}" for c, n in t.by_class.items())
    rows = [
        ("Started", format_time(t.started_at_ms) if t.started_at_ms else "–"),
        ("Ended", format_time(t.ended_at_ms) if t.ended_at_ms else "–"),
        ("Requests", f"{t.requests} ({classes})"),
        ("Models", ", ".join(t.models) or "–"),
        ("Branches", ", ".join(t.branches)),
        ("Sub-agents", str(t.subagents)),
        ("Tokens", usage_line(t.usage)),
        (
            "Cost",
            total_cost_line(t),
        ),
    ]
    if branch is not None:
        rows.insert(0, ("Branch", branch))
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"# Conversation `{view.id}`\n\n| | |\n|---|---|\n{table}\n\n"


def _background_md(view: ConversationView) -> str:
    if not view.background:
        return ""
    lines = [
        "## Background calls",
        "",
        "| time | class | model | tokens | cost |",
        "|---|---|---|---|---|",
    ]
    for s in view.background:
        cls = s.traffic_class.value if s.traffic_class else "–"
        tokens = format_tokens(s.usage.input_tokens + s.usage.output_tokens)
        lines.append(
            f"| {format_clock(s.started_at_ms)} | {cls} | {s.model or '–'} | {tokens} |"
            f" {format_cost(s.cost_usd_micros)} |"
        )
    return "\n".join(lines) + "\n"


def _thread_md(event: ThreadStart) -> str:
    level = "#" * min(6, 2 + event.depth)
    first = event.thread.turns[0].summary
    count = len(event.thread.turns)
    note = f"{level} {event.title}\n\n*{count} turns, from {format_time(first.started_at_ms)}*"
    return _quote(note, event.depth) + "\n\n"


async def write_markdown(
    source: ExportSource,
    view: ConversationView,
    write: WriteText,
    *,
    branch: str | None = None,
) -> None:
    """Render ``view`` as markdown, one scrubbed chunk per turn."""
    write(scrub_text(_header_md(view, branch)))
    async for event in walk(source, view):
        if isinstance(event, ThreadStart):
            write(scrub_text(_thread_md(event)))
        elif isinstance(event, TurnShown):
            write(scrub_text(_turn_md(event)))
        elif isinstance(event, ThreadEnd) and event.depth:
            write("\n")
    write(scrub_text(_background_md(view)))
