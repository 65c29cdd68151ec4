"""``FilterBar``: the ``/`` line that turns ``model:opus status:5xx q:"migration"`` into a filter.

It parses on enter and reports ``Applied`` with the parsed query, or shows the parse error in
place and stays open; escape reports ``Cancelled``. The screen decides what a filter does, and
names the keys it cannot honour: the bar refuses those, saying why, instead of dropping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from nexus.tui.query import Query, QueryError, help_text, parse_query


class FilterBar(Vertical):
    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; }
    FilterBar.-open { display: block; }
    FilterBar Input { border: tall $accent; }
    FilterBar #filter-help { color: $text-muted; padding: 0 1; }
    FilterBar #filter-help.-error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close filter", id="filter.cancel"),
    ]

    @dataclass
    class Applied(Message):
        query: Query

    @dataclass
    class Cancelled(Message):
        pass

    def __init__(
        self, *, unsupported: Mapping[str, str] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._unsupported = dict(unsupported or {})  # RequestFilter field → why the view cannot
        self._help = help_text(self._unsupported)

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._help, id="filter-input")
        yield Static(self._help, id="filter-help")

    def open(self, text: str) -> None:
        self.add_class("-open")
        field = self.query_one(Input)
        field.value = text
        field.cursor_position = len(text)
        self._say(self._help, is_error=False)
        field.focus()

    def close(self) -> None:
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def _say(self, text: str, *, is_error: bool) -> None:
        help_line = self.query_one("#filter-help", Static)
        help_line.update(text)
        help_line.set_class(is_error, "-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            query = parse_query(event.value, unsupported=self._unsupported)
        except QueryError as exc:
            self._say(str(exc), is_error=True)
            return
        self.close()
        self.post_message(self.Applied(query))

    def action_cancel(self) -> None:
        self.close()
        self.post_message(self.Cancelled())
