"""``KeyBar``: the bottom line of every screen — the keys that work here and what they do.

One widget drawing one line: it redraws when the screen's bindings change (focus moves, a screen
is pushed, ``refresh_bindings()`` after a toggle), which Textual's ``Footer`` answers by rebuilding a widget per key — the most expensive
thing on a screen switch. A click on a key runs its action, like pressing it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key"}
    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; color: $text; }
    KeyBar > .key-bar--key { color: $accent; text-style: bold; }
    """

    def __init__(self, *, show_app_keys: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_app_keys = show_app_keys  # detail screens leave the view keys to the palette
        self._spans: list[tuple[int, int, str, object]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str, object]] = []
        hint = " ^p commands "
        # Whole entries only, in binding order (the screen's own keys, then the app's views): the
        # first that does not fit ends the line, and ^p lists them all, so it always shows.
        room = self.size.width - len(hint)
        for entry, action, node in self._entries():
            if text.cell_len + entry.cell_len > room:
                break
            start = text.cell_len
            text.append_text(entry)
            spans.append((start, text.cell_len, action, node))
        text.append(" " * max(0, room - text.cell_len))
        text.append(hint, style="dim")
        self._spans = spans
        return text

    def _entries(self) -> list[tuple[Text, str, object]]:
        """Each shown key as `` key label `` with its action and the node that binds it."""
        entries: list[tuple[Text, str, object]] = []
        seen: set[str] = set()
        key = self.get_component_rich_style("key-bar--key")
        # A toggle's label says what pressing it does now ("Show tools" once they are hidden).
        describe = getattr(self.screen, "binding_label", None)
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            if active.node is self.app and not self.show_app_keys:
                continue
            seen.add(binding.action)
            key_style = key if active.enabled else Style(dim=True)
            entry = Text()
            entry.append(f" {self.app.get_key_display(binding)}", style=key_style)
            label = describe(binding.action) if describe is not None else None
            entry.append(f" {label or binding.description} ", style="" if active.enabled else "dim")
            entries.append((entry, binding.action, active.node))
        return entries

    async def _on_click(self, event: events.Click) -> None:
        for start, end, action, node in self._spans:
            if start <= event.x < end:
                await self.app.run_action(action, node)  # type: ignore[arg-type]
                return
