"""The cache ledger as the TUI draws it, from ``GET /api/cache``'s document: a conversation's Cache
section (efficiency, breaks by cause, dollars lost, the latest breaks) and the usage screen's one
line of cache waste. Pure functions of the document; fetching it is the screens' job.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nexus.numbers import counted
from nexus.records import CACHE_CAUSE_LABELS, CacheCause, CacheLedgerEntry
from nexus.tui import cells

LATEST_BREAKS = 10
"""How many breaks the Cache section lists (newest first); the rest are in ``nexus cache``."""


def _lost(micros: int, unpriced: int) -> str:
    text = cells.cost(micros)
    return f"{text} (+{unpriced} unpriced)" if unpriced else text


def _cause(value: str | None) -> str:
    """A cause as people read it; one this TUI does not know yet (a newer server) as sent."""
    try:
        return CACHE_CAUSE_LABELS[CacheCause(str(value))]
    except ValueError:
        return str(value)


def efficiency_text(totals: dict[str, Any]) -> str:
    """``87.3% (read 1.2M ÷ read + write 1.4M)``, or why there is no figure."""
    efficiency = totals.get("efficiency")
    if efficiency is None:
        return "– (nothing read from or written to the cache)"
    read, write = int(totals.get("cache_read_tokens", 0)), int(totals.get("cache_write_tokens", 0))
    return f"{cells.share(efficiency)} (read {cells.tokens(read)} ÷ {cells.tokens(read + write)})"


def cache_section(doc: dict[str, Any], tz: tzinfo | None) -> RenderableType:
    """A conversation's Cache section: ``doc`` is ``/api/cache?by=cause`` for its requests."""
    totals: dict[str, Any] = doc.get("totals", {})
    top = Table(
        title="cache", title_justify="left", title_style="bold", box=None, show_header=False
    )
    top.add_column(style="bold")
    top.add_column()
    top.add_row("efficiency", efficiency_text(totals))
    breaks = int(totals.get("breaks", 0))
    top.add_row(
        "breaks",
        f"{breaks:,} · {cells.tokens(int(totals.get('missed_tokens', 0)))} tokens written again"
        if breaks
        else "none: every request read what its predecessor cached",
    )
    if breaks:
        top.add_row(
            "dollars lost",
            _lost(
                int(totals.get("excess_cost_usd_micros", 0)), int(totals.get("unpriced_breaks", 0))
            ),
        )
    parts: list[RenderableType] = [top]
    groups: list[dict[str, Any]] = doc.get("groups", [])
    if groups:
        by_cause = Table(
            title="breaks by cause", title_justify="left", title_style="bold", box=None,
            header_style="bold", padding=(0, 2),
        )  # fmt: skip
        for title, justify in (("cause", "left"), ("breaks", "right"), ("tokens", "right"),
                               ("lost", "right")):  # fmt: skip
            by_cause.add_column(title, justify=justify)  # type: ignore[arg-type]
        for g in groups:
            by_cause.add_row(
                _cause(g.get("group")),
                f"{int(g.get('breaks', 0)):,}",
                cells.tokens(int(g.get("missed_tokens", 0))),
                _lost(int(g.get("excess_cost_usd_micros", 0)), int(g.get("unpriced_breaks", 0))),
            )
        parts += [Text(""), by_cause]
    entries: list[CacheLedgerEntry] = doc.get("breaks", [])
    if entries:
        parts += [Text(""), _latest(entries[:LATEST_BREAKS], tz, breaks)]
    return Group(*parts)


def _latest(entries: list[CacheLedgerEntry], tz: tzinfo | None, total: int) -> Table:
    more = (
        f" (newest {len(entries)} of {total:,}; nexus cache lists all)"
        if total > len(entries)
        else ""
    )
    table = Table(
        title=f"breaks{more}", title_justify="left", title_style="bold", box=None,
        header_style="bold", padding=(0, 1),
    )  # fmt: skip
    for title, justify in (("", "left"), ("time", "left"), ("cause", "left"), ("tokens", "right"),
                           ("lost", "right"), ("why", "left"), ("request", "left")):  # fmt: skip
        table.add_column(title, justify=justify, no_wrap=title != "why")  # type: ignore[arg-type]
    for e in entries:
        lost = e.excess_cost_usd_micros
        table.add_row(
            Text(cells.CACHE_BREAK_MARK, style=cells.CACHE_BREAK_STYLE),
            cells.clock(e.started_at_ms, tz),
            CACHE_CAUSE_LABELS.get(e.cause, str(e.cause)),
            cells.tokens(e.missed_tokens),
            cells.cost(lost) if lost is not None else cells.UNPRICED,
            Text(e.detail, style="dim"),
            Text(e.request_id[-12:], style="dim"),
        )
    return table


def cache_waste_line(doc: dict[str, Any], width: int = 200) -> Text:
    """The usage screen's line: dollars lost to cache breaks in the period and the efficiency,
    then, where ``width`` leaves room, the tokens written again and the costliest cause."""
    totals: dict[str, Any] = doc.get("totals", {})
    breaks = int(totals.get("breaks", 0))
    text = Text(f" {cells.CACHE_BREAK_MARK} cache " if breaks else " cache ", style="bold")
    if breaks:
        lost = _lost(
            int(totals.get("excess_cost_usd_micros", 0)), int(totals.get("unpriced_breaks", 0))
        )
        text.append(f"{lost} lost", style=cells.CACHE_BREAK_STYLE)
        text.append(f" to {counted(breaks, 'break')}")
    else:
        text.append("no breaks", style="green")
    text.append(f" · efficiency {cells.share(totals.get('efficiency'))}")
    extras: list[tuple[str, str]] = []
    if breaks:
        missed = cells.tokens(int(totals.get("missed_tokens", 0)))
        extras.append((f" · {missed} tokens written again", ""))
        groups: list[dict[str, Any]] = doc.get("groups", [])
        if groups:
            extras.append((f" · most lost to {_cause(groups[0].get('group'))}", "dim"))
    for extra, style in extras:  # a line, never wrapped: what does not fit is left out
        if text.cell_len + len(extra) > width:
            break
        text.append(extra, style=style)
    return text
