"""How numbers, times and statuses read on screen: tokens, dollars and durations as
``nexus.numbers`` writes them everywhere, clocks, ages, a status in its colour. Pure functions over
plain values; every screen formats through here.
"""

from __future__ import annotations

import zlib
from datetime import datetime, tzinfo

from rich.text import Text

from nexus.numbers import UNPRICED, ago, cost, duration, share, tokens
from nexus.records import (
    BACKGROUND_CLASSES,
    CACHE_CAUSE_LABELS,
    RequestSummary,
    is_error,
)

__all__ = [
    "UNPRICED",
    "ago",
    "cost",
    "duration",
    "share",
    "tokens",
]  # the one format (nexus.numbers), re-exported for screens

DEFAULT_WINDOW_TOKENS = 200_000
LONG_WINDOW_TOKENS = 1_000_000

_CONV_COLOURS = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "bright_blue",
    "bright_magenta",
    "bright_cyan",
    "bright_green",
    "orange1",
    "orchid",
)


def clock(ms: int, tz: tzinfo | None = None) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M:%S")


def stamp(ms: int, tz: tzinfo | None = None) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")


def status_style(status: int | None) -> str:
    if status is None:
        return "bold red"
    if status < 300:
        return "green"
    if status < 400:
        return "cyan"
    if status == 429 or status == 529:
        return "bold yellow"
    if status < 500:
        return "yellow"
    return "bold red"


def status_text(row: RequestSummary) -> Text:
    """The status code, red when the call failed: a 200 whose stream ended in an error event too."""
    status = row.status
    failed_quietly = status is not None and status < 400 and is_error(status, row.outcome)
    style = "bold red" if failed_quietly else status_style(status)
    return Text("ERR" if status is None else str(status), style=style)


CLASS_STYLES = {
    "turn": "bold",
    "subagent": "magenta",
    "compaction": "bold cyan",
    **{str(c): "dim" for c in BACKGROUND_CLASSES},
    "other": "",
}


def class_text(traffic_class: str | None) -> Text:
    if traffic_class is None:
        return Text("…", style="dim")
    return Text(str(traffic_class), style=CLASS_STYLES.get(str(traffic_class), ""))


def conversation_colour(conversation_id: str) -> str:
    """A stable colour per conversation, so rows of one conversation read as a group."""
    return _CONV_COLOURS[zlib.crc32(conversation_id.encode()) % len(_CONV_COLOURS)]


def conversation_marker(conversation_id: str | None, branch: str | None) -> Text:
    if conversation_id is None:
        return Text("·", style="dim")
    short = conversation_id[-4:]
    marker = Text("● ", style=conversation_colour(conversation_id))
    marker.append(short, style="dim")
    if branch and branch != "main":
        marker.append(f" {short_branch(branch)}", style="italic")
    return marker


def short_branch(branch: str) -> str:
    """``branch-2`` → ``b2``, ``compact-1`` → ``c1``, ``task-3`` → ``t3``: fits a narrow column."""
    head, _, number = branch.rpartition("-")
    return f"{head[:1]}{number}" if head and number.isdigit() else branch[:4]


def short_model(model: str | None) -> str:
    """``claude-opus-4-1-20250805`` → ``opus-4-1``: the family and version people talk about."""
    if not model:
        return "–"
    name = model.removeprefix("claude-")
    head, _, tail = name.rpartition("-")
    if tail.isdigit() and len(tail) == 8:
        name = head
    return name


def context_window(
    model_or_models: str | tuple[str, ...] | None, context_tokens: int, uses_1m_beta: bool = False
) -> int:
    """The context window the conversation runs in: 200k unless the 1M beta is on (or the context
    already exceeds 200k, which only the 1M window allows)."""
    if uses_1m_beta or context_tokens > DEFAULT_WINDOW_TOKENS:
        return LONG_WINDOW_TOKENS
    models = (model_or_models,) if isinstance(model_or_models, str) else model_or_models or ()
    if any("[1m]" in m for m in models):
        return LONG_WINDOW_TOKENS
    return DEFAULT_WINDOW_TOKENS


def gauge(fraction: float, width: int) -> Text:
    """A one-line bar, coloured by how full it is."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    style = "green" if fraction < 0.6 else "yellow" if fraction < 0.85 else "bold red"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    return bar


def bare_host(host: str) -> str:
    """``127.0.0.1:3000`` → ``127.0.0.1``: the port says nothing about who sent the traffic."""
    name, _, port = host.rpartition(":")
    return name if port.isdigit() and name else host


CACHE_BREAK_MARK = "✂"
"""Drawn on every live row and tree node whose request broke the prompt cache (one cell wide)."""
CACHE_BREAK_STYLE = "bold red"


def cache_break_mark(row: RequestSummary) -> Text:
    """``✂`` before a request that missed the prompt cache its predecessor left (issue 19's
    ledger); empty otherwise. It rides in the flexible preview column, so it never pushes a fixed
    column off a narrow screen."""
    mark = Text()  # no base style: a preview appended after it keeps its own
    if row.cache_break is not None:
        mark.append(f"{CACHE_BREAK_MARK} ", style=CACHE_BREAK_STYLE)
    return mark


def cache_break_text(row: RequestSummary) -> Text:
    """The cause of a cache break in words, with what it cost: one line for the detail screen,
    cut at its end on a narrow terminal, so the cause and the dollars come first, the detail last."""
    brk = row.cache_break
    if brk is None:
        return Text("")
    text = Text(f"{CACHE_BREAK_MARK} cache break: ", style=CACHE_BREAK_STYLE)
    text.append(CACHE_CAUSE_LABELS.get(brk.cause, str(brk.cause)), style="bold")
    micros = brk.excess_cost_usd_micros
    extra = f"{cost(micros)} extra" if micros is not None else "the extra cost unpriced"
    text.append(f" · {extra} · {tokens(brk.missed_tokens)} tokens written again")
    if brk.detail:
        text.append(f" · {brk.detail}", style="dim")
    return text


def size_bytes(n: int) -> str:
    """``812 B``, ``12.3 KB``, ``4.1 MB`` (1024-based, as file sizes read)."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
