"""The Usage screen: per account the 5-hour and 7-day windows as gauges (the server's own numbers,
or estimates labelled as such), tokens or cost by hour or day as a stacked bar chart, and totals.
Everything comes from ``GET /api/usage`` and ``GET /api/windows``; ``r`` reloads, and a new
request on the live feed marks the view stale so the next visit reloads."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual_plotext import PlotextPlot

from nexus.records import LiveEvent, RequestFilter
from nexus.tui import cells
from nexus.tui.messages import LoadFailed, UsageLoaded
from nexus.tui.screens.base import NexusScreen
from nexus.tui.usage_data import (
    Gauge,
    account_totals,
    bucket_keys,
    gauges,
    series,
    short_bucket,
)
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp

SPANS_MS = {"hour": 24 * 3_600_000, "day": 14 * 86_400_000}
BUCKETS = {"hour": 24, "day": 14}
GAUGE_WIDTH = 24


def gauge_line(g: Gauge) -> Text:
    text = Text(f"{g.window:>7} ", style="bold")
    if g.source == "estimate" or g.utilization is None:
        text.append("estimate ", style="italic dim")
        text.append(
            f"{g.requests:,} requests · {cells.tokens(g.tokens)} tokens · "
            f"{cells.cost(g.cost_usd_micros)} in the last {g.window}",
            style="",
        )
        return text
    text.append_text(cells.gauge(g.utilization, GAUGE_WIDTH))
    text.append(f" {g.utilization * 100:5.1f}%")
    if g.is_expired:
        text.append("  reset (no reading since)", style="dim")
    elif g.resets_in_s is not None:
        text.append(f"  resets in {cells.duration(g.resets_in_s * 1000)}", style="dim")
    if g.full_in_s is not None and not g.is_expired:
        if g.is_full_before_reset:
            when = f"in {cells.duration(g.full_in_s * 1000)}" if g.full_in_s else "now"
            text.append(f"  full {when} at this rate", style="bold red")
        else:
            text.append("  lasts until the reset at this rate", style="dim")
    if g.status and g.status != "allowed":
        text.append(f"  {g.status}", style="bold red")
    if g.is_binding:
        text.append("  ◆ binding", style="bold yellow")
    return text


def windows_view(items: list[Gauge]) -> Text:
    if not items:
        return Text(
            "No rate-limit readings yet: windows appear after the first response.", style="dim"
        )
    text = Text()
    current = None
    for g in items:
        if g.account != current:
            if current is not None:
                text.append("\n")
            text.append(f"{g.account}\n", style="bold cyan")
            current = g.account
        text.append_text(gauge_line(g))
        text.append("\n")
    text.rstrip()
    return text


def totals_view(doc: dict[str, object]) -> Table:
    table = Table(box=None, header_style="bold", padding=(0, 1), expand=True)
    for title in ("account", "requests", "errors", "input", "cache w", "cache r", "output", "cost"):
        table.add_column(title, justify="left" if title == "account" else "right")
    for t in account_totals(doc):
        cost = cells.cost(t.cost_usd_micros) + ("*" if t.unpriced else "")
        table.add_row(
            t.account,
            f"{t.requests:,}",
            Text(f"{t.errors:,}", style="red" if t.errors else ""),
            cells.tokens(t.input),
            cells.tokens(t.cache_write),
            cells.tokens(t.cache_read),
            cells.tokens(t.output),
            cost,
        )
    return table


class UsageScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "bucket('hour')", "By hour", id="usage.hour"),
        Binding("d", "bucket('day')", "By day", id="usage.day"),
        Binding("c", "toggle_measure", "Tokens/cost", id="usage.measure"),
        Binding("r", "reload", "Reload", id="usage.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bucket = "hour"
        self.measure = "tokens"
        self.usage_doc: dict[str, object] | None = None
        self._stale = False

    def compose(self) -> ComposeResult:
        yield StatusBar("Usage", id="status")
        yield VerticalScroll(Static(Text("loading…", style="dim"), id="windows"), id="windows-box")
        yield VerticalScroll(Static(id="totals"), id="totals-box")
        yield PlotextPlot(id="usage-chart")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#windows-box").border_title = "rate-limit windows"
        self.query_one("#totals-box").border_title = "totals by account"
        self.nexus.feed_signal.subscribe(self, self.on_feed)
        self.load()

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.load()

    def on_feed(self, events: list[LiveEvent]) -> None:
        if any(e.kind == "request" for e in events):
            self._stale = True

    @work(exclusive=True, group="usage", exit_on_error=False, name="loading usage")
    async def load(self) -> None:
        client = self.nexus.client
        since = self.nexus.clock() - SPANS_MS[self.bucket] + 1
        flt = RequestFilter(since_ms=since)
        offset_ms = _utc_offset_ms(self.nexus)
        try:
            by_time, by_account, windows = await asyncio.gather(
                client.usage(["account"], bucket=self.bucket, flt=flt, utc_offset_ms=offset_ms),
                client.usage(["account"], flt=flt),
                client.windows(),
            )
        except Exception as exc:
            self.post_message(LoadFailed("usage", str(exc)))
            return
        self.post_message(UsageLoaded(by_time, windows, by_account))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#windows", Static).update(
            Text(f"could not load {message.what}: {message.error}", style="bold red")
        )

    def on_usage_loaded(self, message: UsageLoaded) -> None:
        self.usage_doc = message.usage
        self.query_one("#windows", Static).update(windows_view(gauges(message.windows)))
        totals = totals_view(message.totals)
        self.query_one("#totals", Static).update(Group(totals))
        self._draw_chart()
        span = "last 24 hours" if self.bucket == "hour" else "last 14 days"
        self.query_one(StatusBar).info = Text(f"{self.measure} by {self.bucket} · {span}")

    def _draw_chart(self) -> None:
        if self.usage_doc is None:
            return
        keys = bucket_keys(
            self.bucket, self.nexus.clock(), BUCKETS[self.bucket], _utc_offset_ms(self.nexus)
        )
        data = series(self.usage_doc, self.bucket, keys)
        chart = self.query_one(PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        if self.measure == "tokens":
            values = {a: [v / 1000 for v in vs] for a, vs in data.tokens.items()}
            unit = "thousand tokens"
        else:
            values, unit = data.cost_usd, "USD"
        plt.title(f"{unit} by {self.bucket}, per account")
        if data.buckets and values:
            labels = [short_bucket(b, self.bucket) for b in data.buckets]
            # plotext takes ``labels`` (its type stub says ``label``)
            plt.stacked_bar(labels, list(values.values()), labels=list(values.keys()))  # type: ignore[call-arg]
        chart.refresh()

    def action_bucket(self, bucket: str) -> None:
        if bucket != self.bucket:
            self.bucket = bucket
            self.load()

    def action_toggle_measure(self) -> None:
        self.measure = "cost" if self.measure == "tokens" else "tokens"
        self._draw_chart()
        span = "last 24 hours" if self.bucket == "hour" else "last 14 days"
        self.query_one(StatusBar).info = Text(f"{self.measure} by {self.bucket} · {span}")

    def action_reload(self) -> None:
        self.load()


def _utc_offset_ms(app: NexusApp) -> int:
    from datetime import datetime

    offset = datetime.fromtimestamp(app.clock() / 1000, app.tz).astimezone(app.tz).utcoffset()
    return int(offset.total_seconds() * 1000) if offset else 0
