"""The head of a conversation screen: its title and full id, counts and money, and the context
gauge (the latest turn's context against the window: 200k, or 1M when that turn used the
context-1m beta)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from nexus.numbers import counted
from nexus.records import ConversationTree
from nexus.tui import cells

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp

CONTEXT_1M_BETA = "context-1m"


def uses_1m_beta(headers: tuple[tuple[str, str], ...]) -> bool:
    return any(
        name.lower() == "anthropic-beta" and CONTEXT_1M_BETA in value for name, value in headers
    )


def conversation_head(tree: ConversationTree, app: NexusApp, is_1m: bool, width: int = 120) -> Text:
    """Three lines that fit ``width`` without wrapping: the title (cut) and the full id, the
    counts and money (time span and account only where they fit), and the context gauge."""
    s = tree.summary
    window = cells.context_window(s.models, s.latest_context_tokens, is_1m)
    text = Text(" ")
    text.append(cells.one_line(s.title, max(12, width - len(s.id) - 4)), style="bold")
    text.append(f"  {s.id}", style="dim")  # the full id: what --conversation and the API take
    tokens = s.input_tokens + s.output_tokens + s.cache_creation_tokens + s.cache_read_tokens
    line = (
        f"\n {counted(s.request_count, 'request')} · {counted(s.branch_count, 'branch', 'es')} · "
        f"{counted(s.subtask_count, 'sub-task')} · {cells.tokens(tokens)} tokens · "
        f"{cells.cost(s.cost_usd_micros)}"
    )
    text.append(line)
    used = len(line) - 1
    for extra in (
        f" · {cells.stamp(s.started_at_ms, app.tz)} → {cells.clock(s.last_at_ms, app.tz)}",
        f" · {s.account_id or s.host}",
    ):
        if used + len(extra) <= width - 1:
            text.append(extra, style="dim")
            used += len(extra)
    figures = (
        f" {s.latest_context_tokens:,} / {window:,} tokens "
        f"({s.latest_context_tokens * 100 // window}%)"
    )
    badge = "  1M window" if window == cells.LONG_WINDOW_TOKENS else ""
    text.append("\n context ")
    text.append_text(
        cells.gauge(
            s.latest_context_tokens / window,
            max(8, min(30, width - 10 - len(figures) - len(badge))),
        )
    )
    text.append(figures)
    if badge:
        text.append(badge, style="bold cyan")
    return text
