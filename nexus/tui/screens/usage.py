"""The Usage screen: per account the 5-hour and 7-day windows as gauges (the server's own numbers,
or estimates labelled as such), totals, and a chart: requests, tokens or cost (``c`` cycles) by
hour or day (``h``/``d``) over a chosen period (``p``) per account or host (``g``) as stacked bars,
or (``w``) each window's utilization history with its resets as lines, and under the totals the
dollars lost to prompt-cache breaks in the period. Everything comes from ``GET /api/usage``,
``GET /api/windows`` and ``GET /api/cache``; ``r`` reloads, and a new request on the live feed
marks the view stale so the next visit reloads."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual_plotext import PlotextPlot

from nexus.errors import ApiError
from nexus.numbers import counted
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
    window_history,
)
from nexus.tui.widgets.cache_view import cache_waste_line
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp

STEP_MS = {"hour": 3_600_000, "day": 86_400_000}
PERIODS = {"hour": (24, 48, 12), "day": (14, 30, 7)}  # buckets shown; ``p`` cycles
MEASURES = ("tokens", "cost", "requests")
GAUGE_WIDTH = 24


def gauge_line(g: Gauge) -> Text:
    text = Text(f"{g.window:>7} ", style="bold")
    if g.source == "estimate" or g.utilization is None:
        text.append("estimate ", style="italic dim")
        text.append(
            f"{counted(g.requests, 'request')} · {cells.tokens(g.tokens)} tokens · "
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


def totals_view(doc: dict[str, object], by: str = "account") -> Table:
    table = Table(box=None, header_style="bold", padding=(0, 1), expand=True)
    table.add_column(_LABELS[by], justify="left")
    for title in ("requests", "errors", "input", "cache w", "cache r", "output", "cost"):
        table.add_column(title, justify="right")
    for t in account_totals(doc, by):
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


GROUPS = ("account", "host", "client_key")  # what `g` cycles the chart through
_LABELS = {"account": "account", "host": "host", "client_key": "person"}  # a named client key


class UsageScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "bucket('hour')", "By hour", id="usage.hour"),
        Binding("d", "bucket('day')", "By day", id="usage.day"),
        Binding("p", "period", "Period", id="usage.period"),
        Binding("c", "toggle_measure", "Measure", id="usage.measure"),
        Binding("g", "toggle_group", "Account/host/person", id="usage.group"),
        Binding("w", "toggle_windows", "Window history", id="usage.windows"),
        Binding("r", "reload", "Reload", id="usage.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bucket = "hour"
        self.buckets = PERIODS["hour"][0]
        self.measure = "tokens"
        self.group = "account"
        self.show_windows = False  # the chart shows the windows' utilization history
        self.usage_doc: dict[str, object] | None = None
        self.windows_doc: dict[str, object] | None = None
        self._loaded: UsageLoaded | None = None
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
        self.nexus.connected_signal.subscribe(self, self.on_connected)
        self.load()

    def on_connected(self, resumed: bool) -> None:
        """Back in touch with the server: what failed to load (or may have moved while it was
        away) is loaded again, now if on screen, else on the next visit."""
        if self.usage_doc is None or resumed:
            if self.is_current:
                self.load()
            else:
                self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.load()

    def on_feed(self, events: list[LiveEvent]) -> None:
        if any(e.kind == "request" for e in events):
            self._stale = True

    @property
    def since_ms(self) -> int:
        return self.nexus.clock() - self.buckets * STEP_MS[self.bucket] + 1

    @work(exclusive=True, group="usage", exit_on_error=False, name="loading usage")
    async def load(self) -> None:
        client = self.nexus.client
        since = self.since_ms
        flt = RequestFilter(since_ms=since)
        offset_ms = _utc_offset_ms(self.nexus)
        try:
            by_time, by_account, windows, cache = await asyncio.gather(
                client.usage([self.group], bucket=self.bucket, flt=flt, utc_offset_ms=offset_ms),
                client.usage([self._totals_by], flt=flt),
                client.windows(since_ms=since),
                _cache_ledger(self.nexus, flt),
            )
        except Exception as exc:
            self.post_message(LoadFailed("usage", str(exc)))
            return
        self.post_message(UsageLoaded(by_time, windows, by_account, cache))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#windows", Static).update(
            Text(f"could not load {message.what}: {message.error}", style="bold red")
        )

    def on_usage_loaded(self, message: UsageLoaded) -> None:
        self.usage_doc = message.usage
        self.windows_doc = message.windows
        self.query_one("#windows", Static).update(windows_view(gauges(message.windows)))
        self._loaded = message
        self._draw_totals()
        self._draw_chart()

    def _draw_totals(self) -> None:
        loaded = self._loaded
        if loaded is None:
            return
        inner = self.size.width - 4  # the box's border and padding
        waste = cache_waste_line(loaded.cache, inner) if loaded.cache else Text("")
        totals = totals_view(loaded.totals, self._totals_by)
        self.query_one("#totals", Static).update(Group(totals, waste))

    def on_resize(self) -> None:
        self._draw_totals()  # the cache line fits the new width

    @property
    def _totals_by(self) -> str:
        """Totals are per account, or per person while the chart is."""
        return "client_key" if self.group == "client_key" else "account"

    def _span_text(self) -> str:
        unit = "hours" if self.bucket == "hour" else "days"
        return f"last {self.buckets} {unit}"

    def _draw_chart(self) -> None:
        chart = self.query_one(PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        if self.show_windows:
            self._draw_windows(plt)  # an empty chart's title says why it is empty
            info = f"window utilization · {self._span_text()} · w: usage chart"
        else:
            self._draw_usage(plt)
            info = (
                f"{self.measure} by {self.bucket} per {_LABELS[self.group]} · {self._span_text()}"
            )
        self.query_one(StatusBar).info = Text(info)
        chart.refresh()

    def _draw_usage(self, plt: Any) -> None:
        if self.usage_doc is None:
            return
        keys = bucket_keys(
            self.bucket, self.nexus.clock(), self.buckets, _utc_offset_ms(self.nexus)
        )
        data = series(self.usage_doc, self.bucket, keys, by=self.group)
        values: dict[str, list[float]] | dict[str, list[int]]
        if self.measure == "tokens":
            values = {a: [v / 1000 for v in vs] for a, vs in data.tokens.items()}
            unit = "thousand tokens"
        elif self.measure == "cost":
            values, unit = data.cost_usd, "USD"
        else:
            values, unit = data.requests, "requests"
        plt.title(f"{unit} by {self.bucket}, per {_LABELS[self.group]}")
        if data.buckets and values:
            labels = [short_bucket(b, self.bucket) for b in data.buckets]
            # plotext takes ``labels`` (its type stub says ``label``)
            plt.stacked_bar(labels, list(values.values()), labels=list(values.keys()))

    def _draw_windows(self, plt: Any) -> bool:
        """The windows' history; False when there is none to draw (no response in the period
        carried rate-limit headers: the windows above are then estimates)."""
        if self.windows_doc is None:
            return True  # still loading
        history = window_history(self.windows_doc, self.nexus.clock(), self.since_ms)
        if not history:
            plt.title("no rate-limit readings in this period: no window history to draw")
            return False
        plt.title("window utilization (%), hours from now; resets as vertical lines")
        plt.ylim(0, 100)
        plt.xlim(-self.buckets * STEP_MS[self.bucket] / 3_600_000, 0)
        many = len({h.account for h in history}) > 1
        resets: set[float] = set()
        for h in history:
            label = f"{h.account} {h.window}" if many else h.window
            plt.plot(h.hours_ago, h.percent, label=label, marker="braille")
            resets.update(h.resets_hours_ago)
        for at in sorted(resets):
            plt.vline(at, "red")
        return True

    def action_bucket(self, bucket: str) -> None:
        if bucket != self.bucket:
            self.bucket = bucket
            self.buckets = PERIODS[bucket][0]
            self.load()

    def action_period(self) -> None:
        periods = PERIODS[self.bucket]
        self.buckets = periods[(periods.index(self.buckets) + 1) % len(periods)]
        self.load()

    def action_toggle_measure(self) -> None:
        self.measure = MEASURES[(MEASURES.index(self.measure) + 1) % len(MEASURES)]
        self.show_windows = False
        self._draw_chart()

    def action_toggle_group(self) -> None:
        self.group = GROUPS[(GROUPS.index(self.group) + 1) % len(GROUPS)]
        self.show_windows = False
        self.query_one("#totals-box").border_title = f"totals by {_LABELS[self._totals_by]}"
        self.load()

    def action_toggle_windows(self) -> None:
        self.show_windows = not self.show_windows
        self._draw_chart()

    def action_reload(self) -> None:
        self.load()


async def _cache_ledger(app: NexusApp, flt: RequestFilter) -> dict[str, Any] | None:
    """The period's cache waste; a server without the ledger (older, or refusing it) leaves the
    line out rather than failing the whole screen."""
    try:
        return await app.client.cache("cause", flt=flt, limit=1)
    except ApiError:
        return None


def _utc_offset_ms(app: NexusApp) -> int:
    from datetime import datetime

    offset = datetime.fromtimestamp(app.clock() / 1000, app.tz).astimezone(app.tz).utcoffset()
    return int(offset.total_seconds() * 1000) if offset else 0
