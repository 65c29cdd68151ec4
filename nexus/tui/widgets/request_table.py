"""``RequestTable``: the request list as a line-API widget that draws only the visible rows.

Rows live in a ``PagedRows``; when a row on screen is not loaded the table posts ``PagesNeeded``
and the screen's worker fetches those pages (the table does no I/O). The header is a fixed first
line; the cursor, marks and follow mode are the table's state. ``Selected`` is posted on enter or a
click on the cursor row, ``Highlighted`` when the cursor moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nexus.records import RequestSummary
from nexus.tui import cells
from nexus.tui.columns import fit_columns, fixed_width
from nexus.tui.paging import PagedRows, PageRequest


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int  # 0: takes the remaining width
    render: Callable[[RequestSummary], Text | str]
    justify: str = "left"
    drop: int = 0  # on a narrow screen 1 goes first, then 2…; 0: always shown


MIN_PREVIEW = 24
"""Columns are dropped until the preview has this much room (or only the kept ones are left)."""


def _cls(row: RequestSummary) -> Text:
    text = cells.class_text(row.traffic_class)
    if text.plain == "count_tokens":
        text.plain = "count"
    return text


def _account(row: RequestSummary) -> str:
    """The account (team mode), else the host the client used."""
    return row.account_id or cells.bare_host(row.host)


def _tokens_in(row: RequestSummary) -> str:
    return cells.tokens(row.usage.input_tokens)


def _tokens_cache(row: RequestSummary) -> str:
    u = row.usage
    return cells.tokens(u.cache_read_input_tokens + u.cache_creation_input_tokens)


def _preview(row: RequestSummary) -> Text:
    if row.error and row.status is None:
        return Text(row.error, style="red")
    text = cells.cache_break_mark(row)
    if not row.user_preview and row.reply_preview:
        text.append(" ".join(row.reply_preview.split()), style="italic")
    else:
        text.append(" ".join(row.user_preview.split()))
    return text


def default_columns(tz: tzinfo | None) -> list[Column]:
    return [
        Column("time", 8, lambda r: cells.clock(r.started_at_ms, tz)),
        Column("account", 10, _account, drop=3),
        Column("model", 11, lambda r: cells.short_model(r.model), drop=6),
        Column("class", 8, _cls),
        Column("st", 3, lambda r: cells.status_text(r), "right"),
        Column("in", 5, _tokens_in, "right", drop=5),
        Column("out", 5, lambda r: cells.tokens(r.usage.output_tokens), "right"),
        Column("cache", 5, _tokens_cache, "right", drop=4),
        Column("cost", 7, lambda r: cells.cost(r.cost_usd_micros), "right"),
        Column("dur", 6, lambda r: cells.duration(r.duration_ms), "right", drop=1),
        Column("conv", 9, lambda r: cells.conversation_marker(r.conversation_id, r.branch), drop=2),
        Column("preview", 0, _preview),
    ]


class RequestTable(ScrollView, can_focus=True):
    """Newest-first requests, paged on demand."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First row", show=False, id="table.first"),
        Binding("end,G", "last", "Last loaded row", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.open"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "request-table--header",
        "request-table--cursor",
        "request-table--mark",
        "request-table--loading",
    }
    DEFAULT_CSS = """
    RequestTable { height: 1fr; overflow-x: hidden; }
    RequestTable > .request-table--header { text-style: bold; color: $text-muted; }
    RequestTable > .request-table--cursor { background: $accent 40%; }
    RequestTable:focus > .request-table--cursor { background: $accent; color: $text; }
    RequestTable > .request-table--mark { color: $warning; text-style: bold; }
    RequestTable > .request-table--loading { color: $text-disabled; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class PagesNeeded(Message):
        """Rows on screen are not loaded: fetch these pages and call ``add_page``."""

        table: RequestTable
        requests: list[PageRequest]

    @dataclass
    class Selected(Message):
        table: RequestTable
        row: RequestSummary

    @dataclass
    class Highlighted(Message):
        table: RequestTable
        row: RequestSummary | None

    @dataclass
    class RowsPainted(Message):
        """Rows have been drawn, after ``report_paint`` was set (once)."""

        table: RequestTable

    def __init__(
        self,
        *,
        page_size: int = 100,
        tz: tzinfo | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.rows: PagedRows[RequestSummary] = PagedRows(page_size=page_size)
        self.columns = default_columns(tz)
        self._fitted_width = -1
        self._fitted: list[tuple[Column, int]] = []
        self.marks: set[str] = set()
        self._strips: LRUCache[tuple[str, int, bool, bool, int], Strip] = LRUCache(400)
        self._version = 0
        self.painted_version = -1  # the version of the rows last drawn (benchmarks wait on it)
        self.report_paint = False  # post RowsPainted once rows are next drawn

    # -- data -------------------------------------------------------------------------------
    def reload(self) -> None:
        """Forget every row and ask for the first page again (a new filter, a reconnect)."""
        self.rows.reset()
        self.cursor_row = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._changed()
        self._request_pages(0, max(1, self.size.height))  # now, not a frame later

    @property
    def version(self) -> int:
        return self._version

    def add_page(
        self, request: PageRequest, items: list[RequestSummary], next_cursor: str | None
    ) -> None:
        if self.rows.add_page(request, items, next_cursor):
            self._changed()

    def page_failed(self, request: PageRequest) -> None:
        self.rows.fetch_failed(request)

    def prepend(self, rows: Iterable[RequestSummary]) -> int:
        """New rows at the top; the cursor stays on the row it was on (unless it sat at the top)."""
        before = len(self.rows)
        added = self.rows.prepend(rows)
        if added and self.cursor_row > 0:
            self.cursor_row += added
            if self.scroll_y > 0:
                self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
        if added or len(self.rows) != before:
            self._changed()
        else:
            self._changed(resize=False)
        return added

    def update_row(self, row: RequestSummary) -> bool:
        if self.rows.update(row):
            self._changed(resize=False)
            return True
        return False

    def _changed(self, *, resize: bool = True) -> None:
        self._version += 1
        if resize:
            self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self.refresh()

    @property
    def current(self) -> RequestSummary | None:
        return self.rows.row(self.cursor_row)

    def toggle_mark(self) -> bool:
        row = self.current
        if row is None:
            return False
        if row.id in self.marks:
            self.marks.discard(row.id)
        else:
            self.marks.add(row.id)
        self._changed(resize=False)
        return row.id in self.marks

    def jump_mark(self, step: int) -> bool:
        """Move to the next (step 1) or previous (-1) marked row among the loaded ones."""
        index = self.cursor_row + step
        while 0 <= index < len(self.rows):
            row = self.rows.row(index)
            if row is not None and row.id in self.marks:
                self.cursor_row = index
                return True
            index += step
        return False

    # -- cursor -----------------------------------------------------------------------------
    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, max(0, len(self.rows) - 1)))

    def watch_cursor_row(self, old: int, new: int) -> None:
        body = max(1, self.size.height - 1)
        self._scroll_to_cursor()
        if round(self.scroll_y) > new or new >= round(self.scroll_y) + body:
            # The new extent is not laid out yet (rows just arrived): scroll once it is.
            self.call_after_refresh(self._scroll_to_cursor)
        # Pages around the cursor are asked for now rather than when the scrolled view is drawn.
        self._request_pages(max(0, new - body), new + body)
        self.refresh()
        self.post_message(self.Highlighted(self, self.current))

    def _scroll_to_cursor(self) -> None:
        body = max(1, self.size.height - 1)
        top, row = round(self.scroll_y), self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + body:
            self.scroll_to(y=row - body + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.cursor_row += step

    def action_page(self, step: int) -> None:
        self.cursor_row += step * max(1, self.size.height - 2)

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = len(self.rows) - 1

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Selected(self, row))

    async def _on_click(self, event: events.Click) -> None:
        if event.y == 0:
            return
        index = event.y - 1 + round(self.scroll_y)
        if index == self.cursor_row and event.chain >= 2:
            self.action_select()
        self.cursor_row = index

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(event.size.width, len(self.rows) + 1)

    # -- drawing ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        top = round(self.scroll_y)
        if y == 1:
            self._request_pages(top, top + self.size.height)
            self.painted_version = self._version
            if self.report_paint and self.rows.loaded_rows:
                self.report_paint = False
                self.post_message(self.RowsPainted(self))
        index = y - 1 + top
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows.row(index)
        is_cursor = index == self.cursor_row
        if row is None:
            style = self.get_component_rich_style("request-table--loading")
            return Strip([Segment(" loading…".ljust(width), style)], width)
        key = (row.id, width, is_cursor, row.id in self.marks, self._version)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._row_strip(row, width, is_cursor, row.id in self.marks)
            self._strips[key] = strip
        return strip

    def _request_pages(self, first: int, last: int) -> None:
        needed = self.rows.needed(first, last)
        if needed:
            self.post_message(self.PagesNeeded(self, needed))

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        """The columns shown at ``width`` and the width of each (computed once per width)."""
        if self._fitted_width != width:
            shown = fit_columns(self.columns, width, min_flex=MIN_PREVIEW)
            fixed = fixed_width(shown)
            self._fitted = [(c, c.width or max(8, width - fixed)) for c in shown]
            self._fitted_width = width
        return self._fitted

    def _header(self, width: int) -> Strip:
        text = Text(" ")
        for column, w in self._layout(width):
            text.append(_fit(column.title, w, column.justify))
            text.append(" ")
        style = self.rich_style + self.get_component_rich_style("request-table--header")
        return _strip(text, width, style, self)

    def _row_strip(
        self, row: RequestSummary, width: int, is_cursor: bool, is_marked: bool
    ) -> Strip:
        mark_style = self.get_component_rich_style("request-table--mark")
        text = Text("*" if is_marked else " ", style=mark_style)
        for column, w in self._layout(width):
            value = column.render(row)
            cell = value if isinstance(value, Text) else Text(value)
            cell.truncate(w, overflow="ellipsis")
            text.append_text(_align(cell, w, column.justify))
            text.append(" ")
        style = self.rich_style
        if is_cursor:
            style = style + self.get_component_rich_style("request-table--cursor")
        return _strip(text, width, style, self)


def _fit(value: str, width: int, justify: str) -> str:
    value = value[:width]
    return value.rjust(width) if justify == "right" else value.ljust(width)


def _align(cell: Text, width: int, justify: str) -> Text:
    pad = width - cell.cell_len
    if pad > 0:
        if justify == "right":
            cell = Text(" " * pad) + cell
        else:
            cell.append(" " * pad)
    return cell


def _strip(text: Text, width: int, style: Style, widget: RequestTable) -> Strip:
    """One Strip per line, styled and padded in the Text itself: Strips are costly to make."""
    text.style = style
    text.truncate(width, pad=True)
    return Strip(list(text.render(widget.app.console)), width)
