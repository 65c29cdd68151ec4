"""The timeline of a conversation and its numbers, as Rich renderables: each request as a bar on
a shared time scale, with the gaps between them named (tools running, the person replying), and
a table of turns, model/tool/person time and tokens and cost by branch."""

from __future__ import annotations

from datetime import tzinfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nexus.records import ConversationTree
from nexus.tui import cells
from nexus.tui.shape import Numbers, gap_before

BAR_WIDTH = 36
MIN_GAP_MS = 1000


def timeline(tree: ConversationTree, tz: tzinfo | None, *, with_background: bool = False) -> Text:
    rows = [r for r in tree.nodes if with_background or not r.is_background]
    if not rows:
        return Text("(no requests)", style="dim")
    start = min(r.started_at_ms for r in rows)
    longest = max(r.duration_ms for r in rows) or 1
    by_id = {r.id: r for r in tree.nodes}
    text = Text()
    for row in rows:
        gap = gap_before(row, by_id)
        if gap is not None and gap[0] >= MIN_GAP_MS:
            ms, is_tool = gap
            who = "⚙ tools" if is_tool else "✎ person"
            text.append(
                f"{'':>9}  ┊ {who} {cells.duration(ms)}\n", style="yellow" if is_tool else "cyan"
            )
        offset = cells.duration(row.started_at_ms - start)
        text.append(f"+{offset:>8} ", style="dim")
        klass = str(row.traffic_class or "?")
        text.append(f"{klass[:10]:<10} ", style=cells.CLASS_STYLES.get(klass, ""))
        width = max(1, round(row.duration_ms / longest * BAR_WIDTH))
        text.append(
            "█" * width,
            style="red" if row.status != 200 else cells.conversation_colour(row.branch or "main"),
        )
        text.append(" " * (BAR_WIDTH - width + 1))
        text.append(f"{cells.duration(row.duration_ms):>7} ")
        text.append(f"{(row.branch or '–')[:10]:<10} ", style="italic dim")
        text.append(cells.one_line(row.user_preview or row.reply_preview, 40) + "\n")
    text.rstrip()
    return text


def numbers_view(n: Numbers) -> RenderableType:
    top = Table(box=None, show_header=False, padding=(0, 2))
    top.add_column(style="bold")
    top.add_column(justify="right")
    top.add_column(style="dim")
    top.add_row("requests", f"{n.requests:,}", f"{n.background} background calls")
    top.add_row("turns", f"{n.turns:,}", f"{n.prompts} answer the person, the rest a tool result")
    top.add_row("sub-agent requests", f"{n.subagent_requests:,}", "")
    top.add_row("compactions", f"{n.compactions:,}", "")
    top.add_row("model time", cells.duration(n.model_ms), "time spent answering agent requests")
    top.add_row("tool-execution time", cells.duration(n.tool_ms), "from a tool_use to its result")
    top.add_row(
        "person's reply time", cells.duration(n.person_ms), "from an answer to the next prompt"
    )
    top.add_row("wall time", cells.duration(n.wall_ms), "first request to last answer")

    branches = Table(
        title="by branch",
        title_justify="left",
        title_style="bold",
        box=None,
        header_style="bold",
        padding=(0, 2),
    )
    for title, justify in (
        ("branch", "left"),
        ("requests", "right"),
        ("input", "right"),
        ("output", "right"),
        ("cache", "right"),
        ("cost", "right"),
    ):
        branches.add_column(title, justify=justify)  # type: ignore[arg-type]
    for b in n.branches:
        cost = cells.cost(b.cost_usd_micros) + (f" (+{b.unpriced} unpriced)" if b.unpriced else "")
        branches.add_row(
            b.name,
            f"{b.requests:,}",
            cells.tokens(b.input_tokens),
            cells.tokens(b.output_tokens),
            cells.tokens(b.cache_tokens),
            cost,
        )
    return Group(top, Text(""), branches)
