"""``StatusBar``: the top line of every screen — which view, the connection to the server (always
visible), and what the screen wants to say (row counts, follow state, the active filter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nexus.tui.feed import ConnectionState, Link

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; }
    """

    title: reactive[str] = reactive("")
    info: reactive[Text | str] = reactive("")
    connection: reactive[ConnectionState] = reactive(ConnectionState(Link.CONNECTING))

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title

    def on_mount(self) -> None:
        app: NexusApp = self.app  # type: ignore[assignment]
        self.watch(app, "connection", self._connection_changed, init=True)

    def _connection_changed(self, state: ConnectionState) -> None:
        self.connection = state

    def render(self) -> Text:
        app: NexusApp = self.app  # type: ignore[assignment]
        line = Text(" Nexus ", style="bold reverse")
        line.append(f" {self.title} ", style="bold")
        line.append("│ ", style="dim")
        line.append_text(connection_text(self.connection, app.server_label))
        info = self.info
        if info:
            line.append(" │ ", style="dim")
            line.append_text(info if isinstance(info, Text) else Text(info))
        return line


def connection_text(state: ConnectionState, server: str) -> Text:
    if state.link is Link.LIVE:
        text = Text("● live ", style="bold green")
    elif state.link is Link.REFUSED:  # final: the reason first, it is what to act on
        text = Text(f"✖ {state.detail} ", style="bold red")
    elif state.link is Link.CONNECTING:
        text = Text("◌ connecting ", style="yellow")
    else:
        retry = f", retrying in {state.retry_in_s:g}s" if state.retry_in_s else ""
        text = Text(f"✖ offline{retry} ", style="bold red")
    text.append(server, style="dim")
    if state.link is Link.RECONNECTING and state.detail:
        text.append(f" ({state.detail[:60]})", style="red")
    return text
