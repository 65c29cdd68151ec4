"""``ChatLog``: a request's conversation drawn as a chat — roles, text, collapsed thinking, each
tool call with its input and matching result, images named. Built on ``RichLog`` so a long
history is rendered once into lines and scrolls without re-rendering."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import RichLog

from nexus.tui.chat import Entry

MAX_TOOL_LINES = 24
MAX_RESULT_LINES = 16
MAX_SYSTEM_CHARS = 400

_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold magenta", "system": "bold blue"}


class ChatLog(RichLog):
    DEFAULT_CSS = """
    ChatLog { background: $surface; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, auto_scroll=True, id=id)
        self.entries: list[Entry] = []
        self.expand_thinking = False

    def show(self, entries: Sequence[Entry], *, expand_thinking: bool | None = None) -> None:
        self.entries = list(entries)
        if expand_thinking is not None:
            self.expand_thinking = expand_thinking
        self.clear()
        for renderable in render_entries(self.entries, expand_thinking=self.expand_thinking):
            self.write(renderable)

    def toggle_thinking(self) -> None:
        y = self.scroll_y
        self.show(self.entries, expand_thinking=not self.expand_thinking)
        self.scroll_to(y=y, animate=False)


def render_entries(entries: Sequence[Entry], *, expand_thinking: bool) -> list[RenderableType]:
    out: list[RenderableType] = []
    last_turn: tuple[int, bool] | None = None
    for entry in entries:
        turn = (entry.turn, entry.is_response)
        if entry.kind != "system" and turn != last_turn:
            out.append(_heading(entry))
            last_turn = turn
        out.append(render_entry(entry, expand_thinking=expand_thinking))
    if not entries:
        out.append(Text("(no messages in this request)", style="dim"))
    return out


def _heading(entry: Entry) -> Text:
    role = entry.role or "user"
    text = Text("\n▌ ", style=_ROLE_STYLE.get(role, "bold"))
    text.append(role, style=_ROLE_STYLE.get(role, "bold"))
    if entry.is_response:
        text.append("  · response", style="bold green")
    else:
        text.append(f"  · message {entry.turn}", style="dim")
    return text


def render_entry(entry: Entry, *, expand_thinking: bool) -> RenderableType:
    if entry.kind == "system":
        text = Text("▌ system", style="bold blue")
        body = entry.text
        more = len(body) - MAX_SYSTEM_CHARS
        text.append(f"  · {len(body):,} chars\n", style="dim")
        text.append(body[:MAX_SYSTEM_CHARS], style="dim")
        if more > 0:
            text.append(f" … (+{more:,} chars)", style="dim italic")
        return text
    if entry.kind in ("user", "assistant"):
        return Text(entry.text)
    if entry.kind == "thinking":
        if not expand_thinking:
            return Text(
                f"  ▸ thinking · {len(entry.text):,} chars  (t expands)", style="dim italic"
            )
        text = Text("  ▾ thinking\n", style="dim italic")
        text.append(entry.text, style="italic dim")
        return text
    if entry.kind == "tool":
        return _tool(entry)
    if entry.kind == "image":
        return Text(f"  ▣ {entry.text}", style="blue")
    return Text(f"  {entry.text}", style="dim")


def _tool(entry: Entry) -> RenderableType:
    title = Text("  ⚙ ", style="bold yellow")
    title.append(entry.name, style="bold yellow")
    lines = entry.tool_input.splitlines()
    shown = "\n".join(lines[:MAX_TOOL_LINES])
    if len(lines) > MAX_TOOL_LINES:
        shown += f"\n… (+{len(lines) - MAX_TOOL_LINES} lines)"
    parts: list[RenderableType] = [
        title,
        Syntax(
            shown,
            "json",
            theme="ansi_dark",
            word_wrap=True,
            background_color="default",
            padding=(0, 4),
        ),
    ]
    if entry.result is None:
        parts.append(Text("    ↳ (no result in this request)", style="dim"))
    else:
        result_lines = entry.result.splitlines() or [""]
        head = "\n      ".join(result_lines[:MAX_RESULT_LINES])
        style = "red" if entry.is_error else "green"
        result = Text("    ↳ " + ("error: " if entry.is_error else ""), style=f"bold {style}")
        result.append(head, style=style if entry.is_error else "")
        if len(result_lines) > MAX_RESULT_LINES:
            result.append(f"\n      … (+{len(result_lines) - MAX_RESULT_LINES} lines)", style="dim")
        parts.append(result)
    return Group(*parts)
