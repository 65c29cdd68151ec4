"""The Live screen: every request, newest first, tailing the live feed.

Pages come from ``GET /api/requests`` as the table scrolls; live rows come from the app's feed
signal. Following can be paused: new rows then wait in ``pending`` (bounded; past the bound the
table reloads on resume). ``/`` filters with the API's filters, ``m`` marks rows, ``c`` opens the
row's conversation, enter opens the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from nexus.numbers import counted
from nexus.records import LiveEvent, RequestFilter, RequestSummary
from nexus.tui.messages import RequestCount, RequestPageLoaded
from nexus.tui.paging import PageRequest
from nexus.tui.query import Query, matches
from nexus.tui.screens.base import NexusScreen
from nexus.tui.widgets.filter_bar import FilterBar
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.request_table import RequestTable
from nexus.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    pass

MAX_PENDING = 2000


def empty_store_text(proxy_url: str) -> Text:
    text = Text("No requests recorded yet.\n\n", style="bold")
    text.append("Point Claude Code at Nexus and use it as usual:\n\n")
    text.append(f"    ANTHROPIC_BASE_URL={proxy_url} claude\n\n", style="bold cyan")
    text.append("Any Anthropic API client works the same way (set its base URL).\n")
    text.append("Requests appear here as they happen.", style="dim")
    return text


class LiveScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="live.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="live.clear_filter"),
        Binding("p,space", "toggle_follow", "Pause/follow", id="live.follow"),
        Binding("m", "mark", "Mark", id="live.mark"),
        Binding("n", "next_mark", "Next mark", show=False, id="live.next_mark"),
        Binding("N", "next_mark(-1)", "Previous mark", show=False, id="live.prev_mark"),
        Binding("c", "conversation", "Conversation", id="live.conversation"),
        Binding("r", "reload", "Reload", show=False, id="live.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = RequestFilter()
        self.query_text = ""
        self.following = True
        self.pending: list[RequestSummary] = []
        self.pending_overflow = False
        self.total: int | None = None  # matching requests on the server (None: not counted yet)
        self.count_after_first_page = False

    def compose(self) -> ComposeResult:
        yield StatusBar("Live", id="status")
        yield FilterBar(id="filter-bar")
        yield RequestTable(page_size=self.nexus.page_size, tz=self.nexus.tz, id="requests")
        yield Static(empty_store_text(self.nexus.proxy_url), id="empty")
        yield KeyBar()

    @property
    def table(self) -> RequestTable:
        return self.query_one(RequestTable)

    def on_mount(self) -> None:
        self.nexus.feed_signal.subscribe(self, self.on_feed)
        self.nexus.connected_signal.subscribe(self, self.on_connected)
        self.watch(self.nexus, "proxy_url", lambda _url: self._update_status(), init=False)
        self.table.focus()
        # Counted once the first page is in: a count over 100 000 rows takes the server ~0.1 s,
        # and asked first it would hold the first page (the first frame with rows) behind it.
        self.count_after_first_page = True
        self._update_status()

    @work(exclusive=True, group="live-count", exit_on_error=False, name="counting requests")
    async def count_rows(self) -> None:
        text, flt = self.query_text, self.filter
        self.post_message(RequestCount(text, await self.nexus.client.count_requests(flt)))

    def on_request_count(self, message: RequestCount) -> None:
        if message.query_text == self.query_text:
            self.total = message.count
            self._update_status()

    # -- paging -------------------------------------------------------------------------------
    @on(RequestTable.PagesNeeded)
    def _pages_needed(self, message: RequestTable.PagesNeeded) -> None:
        for request in message.requests:
            self.fetch_page(request, self.filter)

    @work(group="live-pages", exit_on_error=False, name="loading requests")
    async def fetch_page(self, request: PageRequest, flt: RequestFilter) -> None:
        try:
            page = await self.nexus.take_first_page(flt, request.cursor)
            if page is None:
                page = await self.nexus.client.list_requests(
                    flt, cursor=request.cursor, limit=self.nexus.page_size
                )
        except Exception:
            self.table.page_failed(request)
            self.nexus.start_talking()
            raise
        self.post_message(RequestPageLoaded(request, page))

    def on_request_page_loaded(self, message: RequestPageLoaded) -> None:
        if message.request.index < 0:
            self._merge_head(message.page.items)
        else:
            self.table.add_page(message.request, message.page.items, message.page.next_cursor)
        if self.count_after_first_page and message.request.index == 0:
            self.count_after_first_page = False
            # Once these rows are drawn: the count and the feed use the client, whose first call
            # imports httpx (~0.1 s), and the first frame with rows should not wait for that.
            if self.table.rows.loaded_rows:
                self.table.report_paint = True
            else:  # the empty-store hint instead of a table
                self.call_after_refresh(self._after_first_frame)
        self._update_status()

    @on(RequestTable.RowsPainted)
    def _after_first_frame(self) -> None:
        self.count_rows()
        self.nexus.start_talking()

    def _merge_head(self, items: list[RequestSummary]) -> None:
        top = self.table.rows.row(0)
        newest_ms = top.started_at_ms if top is not None else 0
        missing = [
            r
            for r in items
            if r.started_at_ms >= newest_ms and self.table.rows.index_of(r.id) is None
        ]
        if missing:
            self.table.prepend(reversed(missing))

    # -- live rows ----------------------------------------------------------------------------
    def on_feed(self, events: list[LiveEvent]) -> None:
        """New rows go on top (or wait while paused); a link event updates its row wherever it is,
        and brings in a row the filter now accepts (``class:turn`` matches once it is linked)."""
        fresh: dict[str, RequestSummary] = {}
        for event in events:
            row = event.summary
            if row is None:
                continue
            if event.kind == "request":
                if matches(row, self.filter):
                    fresh[row.id] = row
            elif row.id in fresh:
                fresh[row.id] = row
            elif not self.table.update_row(row) and not self._update_pending(row):
                if matches(row, self.filter) and self._is_newest(row):
                    fresh[row.id] = row
        if fresh and self.total is not None:
            self.total += len(fresh)
        if fresh and self.table.rows.is_loaded:
            rows = list(fresh.values())
            if self.following:
                self.table.prepend(rows)
                if self.table.rows.head_is_full and self.table.cursor_row == 0:
                    self.table.reload()
            elif len(self.pending) + len(rows) > MAX_PENDING:
                self.pending.clear()
                self.pending_overflow = True
            else:
                self.pending.extend(rows)
        self._update_status()

    def _is_newest(self, row: RequestSummary) -> bool:
        top = self.table.rows.row(0)
        return top is None or row.started_at_ms >= top.started_at_ms

    def _update_pending(self, row: RequestSummary) -> bool:
        for index, old in enumerate(self.pending):
            if old.id == row.id:
                self.pending[index] = row
                return True
        return False

    def on_connected(self, resumed: bool) -> None:
        """First connect: the feed starts "from now", so rows recorded between the first page and
        that moment are fetched by reading the first page again. A reconnect resumes the feed
        exactly (after the last event received), so nothing is reloaded. A first page that failed
        (the server was away at launch) is asked for again."""
        rows = self.table.rows
        if not rows.is_loaded and not rows.is_pending(0):
            self.table.reload()
            self.count_rows()
        elif not resumed and rows.is_loaded:
            self.refresh_head(self.filter)

    @work(
        group="live-head", exclusive=True, exit_on_error=False, name="loading the newest requests"
    )
    async def refresh_head(self, flt: RequestFilter) -> None:
        page = await self.nexus.client.list_requests(flt, limit=self.nexus.page_size)
        self.post_message(RequestPageLoaded(PageRequest(-1, None, -1), page))

    # -- actions ------------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self.query_text)

    @on(FilterBar.Applied)
    def _filter_applied(self, message: FilterBar.Applied) -> None:
        self.apply_query(message.query)
        self.table.focus()

    @on(FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        self.table.focus()

    def apply_query(self, query: Query) -> None:
        self.filter = query.filter
        self.query_text = query.text
        self.pending.clear()
        self.total = None
        self.table.reload()
        self.count_rows()
        self._update_status()

    def action_clear_filter(self) -> None:
        if self.query_text:
            self.apply_query(Query(RequestFilter(), ""))

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            if self.pending_overflow:
                self.pending_overflow = False
                self.pending.clear()
                self.table.reload()
            elif self.pending:
                self.table.prepend(self.pending)
                self.pending.clear()
            self.table.cursor_row = 0
        self._update_status()

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self._update_status()

    def action_next_mark(self, step: int = 1) -> None:
        if not self.table.jump_mark(step):
            self.notify("no more marked rows", timeout=2)

    def action_conversation(self) -> None:
        row = self.table.current
        if row is None:
            return
        if row.conversation_id is None:
            self.notify("this request is not part of a conversation (yet)", severity="warning")
            return
        self.nexus.open_conversation(row.conversation_id, focus_request=row.id)

    def action_reload(self) -> None:
        self.table.reload()
        self.count_rows()

    @on(RequestTable.Selected)
    def _open_request(self, message: RequestTable.Selected) -> None:
        self.nexus.open_request(message.row.id)

    # -- status -------------------------------------------------------------------------------
    def _update_status(self) -> None:
        rows = self.table.rows
        info = Text()
        if self.following:
            info.append("▶ following", style="green")
        else:
            info.append("⏸ paused", style="bold yellow")
            waiting = "many" if self.pending_overflow else str(len(self.pending))
            if self.pending or self.pending_overflow:
                info.append(f" ({waiting} new)", style="yellow")
        if self.total is not None:
            count = counted(self.total, "request")
        elif rows.is_exhausted:
            count = counted(len(rows), "request")
        else:
            count = f"{len(rows):,}+ requests"
        info.append(f" │ {count}", style="")
        if self.table.marks:
            info.append(f" │ {len(self.table.marks)} marked", style="yellow")
        if self.query_text:
            info.append(" │ filter: ", style="dim")
            info.append(self.query_text, style="bold magenta")
        self.query_one(StatusBar).info = info
        empty = rows.is_loaded and len(rows) == 0
        empty_box = self.query_one("#empty", Static)
        if empty and self.query_text:
            empty_box.update(Text(f"No requests match {self.query_text!r}.  (escape clears it)"))
        elif empty:
            empty_box.update(empty_store_text(self.nexus.proxy_url))
        empty_box.display = empty
        self.table.display = not empty
        if not empty and self.focused is None:
            self.table.focus()  # it lost focus while hidden; keys must reach it again
