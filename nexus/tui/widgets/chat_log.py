"""``ChatLog``: a request's conversation drawn as a chat — roles, text, collapsed thinking, each
tool call with its input and matching result, images drawn (``nexus.tui.images``). Built on ``RichLog`` so a long
history is rendered once into lines and scrolls without re-rendering.

Tool calls and their results can be hidden (a dim line counts what was left out), and the log
knows the line each message and tool call starts on, so the screen can jump between the messages a
person typed (``claude_code.typed_text`` decides: tool results, reminders and harness text are
not), the tool calls, and the first failed tool call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import RichLog

from nexus.claude_code import typed_text
from nexus.numbers import counted
from nexus.tui.chat import Entry
from nexus.tui.images import picture, picture_view

MAX_TOOL_LINES = 24
MAX_RESULT_LINES = 16
MAX_SYSTEM_CHARS = 400

_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold magenta", "system": "bold blue"}

Mark = Literal["person", "tool", "error"] | None
"""What a written piece is, for navigation: a person's message, a tool call, a failed one."""


class ChatLog(RichLog):
    DEFAULT_CSS = """
    ChatLog { background: $surface; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, auto_scroll=True, id=id)
        self.entries: list[Entry] = []
        self.expand_thinking = False
        self.hide_tools = False
        self.footer: list[RenderableType] = []
        self._marks: list[Mark] = []  # what each write of ``show`` holds, in write order
        self._starts: list[int] = []  # the line each write began on, once rendered

    def write(self, content: Any, *args: Any, **kwargs: Any) -> Self:
        # Writes wait until the log has a size, and are then replayed through here in order: the
        # n-th start recorded is where the n-th write landed.
        if self._size_known:
            self._starts.append(len(self.lines))
        return super().write(content, *args, **kwargs)

    def clear(self) -> Self:
        self._marks, self._starts = [], []
        return super().clear()

    def show(
        self,
        entries: Sequence[Entry],
        *,
        expand_thinking: bool | None = None,
        hide_tools: bool | None = None,
        footer: Sequence[RenderableType] | None = None,
    ) -> None:
        """Draw ``entries`` (then ``footer``, lines the screen adds); the toggles redraw both."""
        self.entries = list(entries)
        if footer is not None:
            self.footer = list(footer)
        if expand_thinking is not None:
            self.expand_thinking = expand_thinking
        if hide_tools is not None:
            self.hide_tools = hide_tools
        self.clear()
        pieces = render_entries(
            self.entries, expand_thinking=self.expand_thinking, hide_tools=self.hide_tools
        )
        self._marks = [mark for mark, _ in pieces]
        for _, renderable in pieces:
            self.write(renderable)
        for renderable in self.footer:
            self.write(renderable)

    def toggle_thinking(self) -> None:
        y = self.scroll_y
        self.show(self.entries, expand_thinking=not self.expand_thinking)
        self.scroll_to(y=y, animate=False)

    def toggle_tools(self) -> None:
        self.show(self.entries, hide_tools=not self.hide_tools)
        self.scroll_home(animate=False)

    def lines_of(self, *kinds: Mark) -> list[int]:
        """The first line of each piece marked with one of ``kinds``, top to bottom."""
        # Not strict: the footer's writes carry no mark, and unrendered writes no start yet.
        pairs = zip(self._marks, self._starts, strict=False)
        return [line for mark, line in pairs if mark in kinds]

    def jump(self, *kinds: Mark, forward: bool = True, first: bool = False) -> bool:
        """Scroll the next (or previous, or first) piece of ``kinds`` to the top; False when
        there is none that way."""
        lines = self.lines_of(*kinds)
        at = round(self.scroll_y)
        if first:
            target = lines[0] if lines else None
        elif forward:
            target = next((line for line in lines if line > at), None)
        else:
            target = next((line for line in reversed(lines) if line < at), None)
        if target is None:
            return False
        self.auto_scroll = False  # stay on what was jumped to when the log grows
        self.scroll_to(y=target, animate=False, immediate=True)
        return True


def person_turns(entries: Sequence[Entry]) -> set[int]:
    """The turns of the request's history that a person typed (not tool results, reminders,
    compaction summaries or other harness text)."""
    texts: dict[int, list[str]] = {}
    for entry in entries:
        if entry.kind == "user" and not entry.is_response:
            texts.setdefault(entry.turn, []).append(entry.text)
    return {turn for turn, blocks in texts.items() if typed_text(blocks)}


def render_entries(
    entries: Sequence[Entry], *, expand_thinking: bool, hide_tools: bool = False
) -> list[tuple[Mark, RenderableType]]:
    out: list[tuple[Mark, RenderableType]] = []
    people = person_turns(entries)
    last_turn: tuple[int, bool] | None = None
    hidden = 0

    def flush_hidden() -> None:
        nonlocal hidden
        if hidden:
            shown = counted(hidden, "tool call")
            out.append((None, Text(f"  ⚙ {shown} hidden (x shows)", style="dim")))
            hidden = 0

    for entry in entries:
        if hide_tools and entry.kind == "tool":
            hidden += 1
            continue
        flush_hidden()
        turn = (entry.turn, entry.is_response)
        if entry.kind != "system" and turn != last_turn:
            is_person = not entry.is_response and entry.turn in people
            out.append((None, Text("")))  # apart from the turn above: a jump lands on the heading
            out.append(("person" if is_person else None, _heading(entry)))
            last_turn = turn
        mark: Mark = None
        if entry.kind == "tool":
            mark = "error" if entry.is_error else "tool"
        out.append((mark, render_entry(entry, expand_thinking=expand_thinking)))
    flush_hidden()
    if not entries:
        out.append((None, Text("(no messages in this request)", style="dim")))
    return out


def _heading(entry: Entry) -> Text:
    role = entry.role or "user"
    text = Text("▌ ", style=_ROLE_STYLE.get(role, "bold"))
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
        drawn = _pictures(entry, indent="  ")
        return Group(*drawn) if drawn else Text(f"  ▣ {entry.text}", style="blue")
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
    parts.extend(_pictures(entry, indent="      "))
    return Group(*parts)


def _pictures(entry: Entry, *, indent: str) -> list[RenderableType]:
    """The entry's images, each under a line naming type, pixel size and bytes."""
    found = (picture(block) for block in entry.images)
    return [picture_view(pic, indent=indent) for pic in found if pic is not None]
