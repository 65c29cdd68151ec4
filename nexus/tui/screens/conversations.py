"""The Conversations screen: one row per conversation with its numbers and a context gauge (the
latest context against the model's window), newest activity first. Pages are read from
``GET /api/conversations`` as the cursor nears the end; enter opens the conversation, ``a``
starts its analysis, ``/`` filters with the same language as the Live screen. Stat cards above the
list sum the chosen period (``p``: 24h, 7d, 30d, all) under the same filter, from ``/api/usage``
and ``/api/conversations/count``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from nexus.numbers import counted
from nexus.records import (
    CONVERSATION_FILTER_LIMITS,
    ConversationSummary,
    LiveEvent,
    RequestFilter,
)
from nexus.tui import cells
from nexus.tui.columns import fit_columns, fixed_width
from nexus.tui.messages import ConversationPageLoaded
from nexus.tui.query import Query
from nexus.tui.screens.base import NexusScreen
from nexus.tui.usage_data import OVERVIEW_GROUPS, overview
from nexus.tui.widgets.filter_bar import FilterBar
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.stat_cards import StatCards
from nexus.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    pass

GAUGE_WIDTH = 8
PERIODS: tuple[tuple[str, int | None], ...] = (
    ("24h", 86_400_000),
    ("7d", 7 * 86_400_000),
    ("30d", 30 * 86_400_000),
    ("all", None),
)
"""The stat cards' periods, ``p`` cycles them: label and span back from now."""


def context_cell(conv: ConversationSummary) -> Text:
    window = cells.context_window(conv.models, conv.latest_context_tokens)
    fraction = conv.latest_context_tokens / window if window else 0.0
    text = cells.gauge(fraction, GAUGE_WIDTH)
    text.append(f" {cells.tokens(conv.latest_context_tokens):>4}/{cells.tokens(window)}")
    return text


def conversation_row(
    conv: ConversationSummary, now_ms: int, title_width: int = 30
) -> list[Text | str]:
    """One cell per column of ``COLUMNS``, in order."""
    tokens = (
        conv.input_tokens + conv.output_tokens + conv.cache_creation_tokens + conv.cache_read_tokens
    )
    marker = Text("● ", style=cells.conversation_colour(conv.id))
    marker.append(conv.id[-4:], style="dim")
    return [
        marker,
        cells.ago(conv.last_at_ms, now_ms).removesuffix(" ago"),
        cells.one_line(conv.account_id or cells.bare_host(conv.host), 12),
        Text(cells.one_line(conv.title or conv.last_user_preview, title_width)),
        Text(str(conv.request_count), justify="right"),
        Text(str(conv.branch_count), justify="right"),
        Text(str(conv.subtask_count), justify="right"),
        Text(cells.tokens(tokens), justify="right"),
        Text(cells.cost(conv.cost_usd_micros), justify="right"),
        context_cell(conv),
        main_models(conv.models),
    ]


def main_models(models: tuple[str, ...]) -> str:
    """The models that did the work: helpers (haiku) only when nothing else ran."""
    main = [m for m in models if "haiku" not in m] or list(models)
    return ", ".join(cells.short_model(m) for m in main[:2])


@dataclass(frozen=True, slots=True)
class ListColumn:
    title: str
    width: int  # 0: the title, which takes what is left
    drop: int = 0  # columns.fit_columns: 1 gives way first; 0 always shown


COLUMNS = (
    ListColumn("conv", 6),
    ListColumn("last", 5),
    ListColumn("account", 12, drop=5),
    ListColumn("title", 0),
    ListColumn("reqs", 4),
    ListColumn("br", 3, drop=2),
    ListColumn("sub", 3, drop=1),
    ListColumn("tokens", 6),
    ListColumn("cost", 7),
    ListColumn("context", 18, drop=3),
    ListColumn("models", 12, drop=4),
)
MIN_TITLE = 20
_CELL_GAP = 2  # DataTable pads each cell by one on both sides
_SCROLLBAR = 2


class ConversationsScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="conversations.open"),
        Binding("slash", "filter", "Filter", id="conversations.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="conversations.clear"),
        Binding("a", "analyze", "Analyze", id="conversations.analyze"),
        Binding("r", "reload", "Reload", id="conversations.reload"),
        Binding("p", "period", "Period", id="conversations.period"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = RequestFilter()
        self.query_text = ""
        self.next_cursor: str | None = None
        self.loaded = False
        self.loading_more = False
        self.rows: list[ConversationSummary] = []
        self._stale = False
        self.period = PERIODS[0]
        self._layout: tuple[list[int], int] = ([], 0)  # shown column indexes, title width

    def compose(self) -> ComposeResult:
        yield StatusBar("Conversations", id="status")
        yield StatCards(id="stat-cards")
        yield FilterBar(unsupported=CONVERSATION_FILTER_LIMITS, id="filter-bar")
        table: DataTable[Text | str] = DataTable(
            id="conversations", cursor_type="row", zebra_stripes=True
        )
        yield table
        yield Static(id="empty")
        yield KeyBar()

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#conversations", DataTable)

    def on_mount(self) -> None:
        self._fit(self.size.width)
        self.nexus.feed_signal.subscribe(self, self.on_feed)
        self.nexus.connected_signal.subscribe(self, self.on_connected)
        self.load_page(None)
        self.load_overview()
        self.table.focus()

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.action_reload()

    def on_connected(self, resumed: bool) -> None:
        """Back in touch with the server: a list that never loaded (no server at launch) is asked
        for now; after a reconnect the numbers may have moved, so they reload on the next visit."""
        if not self.loaded:
            self.action_reload()
        elif resumed:
            self._stale = True

    def on_feed(self, events: list[LiveEvent]) -> None:
        # Linked requests change the numbers; reload when the person comes back to this screen,
        # or now if it is on screen and showing the newest rows.
        if any(e.kind == "link" for e in events):
            if self.is_current and self.table.cursor_row == 0 and not self.loading_more:
                self.action_reload()
            else:
                self._stale = True

    @work(exclusive=True, group="conversations", exit_on_error=False, name="loading conversations")
    async def load_page(self, cursor: str | None) -> None:
        self.loading_more = True
        try:
            page = await self.nexus.client.list_conversations(
                self.filter, cursor=cursor, limit=self.nexus.page_size
            )
        finally:
            self.loading_more = False
        self.post_message(ConversationPageLoaded(page, append=cursor is not None))

    def on_conversation_page_loaded(self, message: ConversationPageLoaded) -> None:
        table = self.table
        if not message.append:
            keep = table.cursor_row
            table.clear()
            self.rows = []
            table.move_cursor(row=min(keep, len(message.page.items) - 1))
        now = self.nexus.clock()
        for conv in message.page.items:
            if conv.id in table.rows:
                continue
            self._add_row(conv, now)
            self.rows.append(conv)
        self.next_cursor = message.page.next_cursor
        self.loaded = True
        self._update_status()

    # -- fitting the terminal -------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Show the columns ``width`` has room for (the least needed give way first; the time,
        title and money stay), rebuilding the table when that set changes."""
        room = max(width, 40) - _SCROLLBAR
        shown = fit_columns(COLUMNS, room, min_flex=MIN_TITLE, gap=_CELL_GAP)
        title_width = max(MIN_TITLE, room - fixed_width(shown, _CELL_GAP))
        layout = ([COLUMNS.index(c) for c in shown], title_width)
        if layout == self._layout:
            return
        self._layout = layout
        table = self.table
        keep = table.cursor_row
        table.clear(columns=True)
        for column in shown:
            table.add_column(column.title, key=column.title, width=column.width or title_width)
        now = self.nexus.clock()
        for conv in self.rows:
            self._add_row(conv, now)
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))

    def _add_row(self, conv: ConversationSummary, now: int) -> None:
        indexes, title_width = self._layout
        row = conversation_row(conv, now, title_width)
        self.table.add_row(*(row[i] for i in indexes), key=conv.id)

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if (
            self.next_cursor
            and not self.loading_more
            and event.cursor_row >= self.table.row_count - max(5, self.nexus.page_size // 5)
        ):
            self.load_page(self.next_cursor)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.nexus.open_conversation(str(event.row_key.value))

    def current(self) -> ConversationSummary | None:
        if not self.rows or self.table.cursor_row >= len(self.rows):
            return None
        return self.rows[self.table.cursor_row]

    def action_open(self) -> None:
        conv = self.current()
        if conv is not None:
            self.nexus.open_conversation(conv.id)

    def action_analyze(self) -> None:
        conv = self.current()
        if conv is not None:
            self.nexus.open_conversation(conv.id, analyze=True)

    def action_reload(self) -> None:
        self.load_page(None)
        self.load_overview()

    def action_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]
        self.load_overview()

    def overview_filter(self) -> RequestFilter:
        """The list's filter over the chosen period (a since: typed in the filter wins)."""
        label, span_ms = self.period
        if span_ms is None or self.filter.since_ms is not None:
            return self.filter
        return replace(self.filter, since_ms=self.nexus.clock() - span_ms)

    @work(exclusive=True, group="overview", exit_on_error=False, name="loading the stat cards")
    async def load_overview(self) -> None:
        cards = self.query_one(StatCards)
        label = "filter" if self.filter.since_ms is not None else self.period[0]
        cards.show(None, label)
        flt = self.overview_filter()
        client = self.nexus.client
        doc = await client.usage(OVERVIEW_GROUPS, flt=flt)
        count = await client.count_conversations(flt)
        cards.show(overview(doc, count), label)

    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self.query_text)

    @on(FilterBar.Applied)
    def _filter_applied(self, message: FilterBar.Applied) -> None:
        self.apply_query(message.query)

    @on(FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        self.table.focus()

    def apply_query(self, query: Query) -> None:
        self.filter, self.query_text = query.filter, query.text
        self.table.move_cursor(row=0)
        self.load_page(None)
        self.load_overview()
        self.table.focus()
        self._update_status()

    def action_clear_filter(self) -> None:
        if self.query_text:
            self.apply_query(Query(RequestFilter(), ""))

    def _update_status(self) -> None:
        count = len(self.rows)
        info = Text(
            f"{count:,}+ conversations" if self.next_cursor else counted(count, "conversation")
        )
        if self.query_text:
            info.append(" │ filter: ", style="dim")
            info.append(self.query_text, style="bold magenta")
        self.query_one(StatusBar).info = info
        empty = self.loaded and not self.rows
        box = self.query_one("#empty", Static)
        box.update(
            Text(
                "No conversations match this filter."
                if self.query_text
                else "No conversations yet: they appear as Claude Code traffic is linked."
            )
        )
        box.display = empty
