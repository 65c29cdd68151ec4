"""The Prompts screen: the team's prompt library that ``/mcp`` serves to Claude Code.

Left, every prompt (and every broken file, in red); right, the selected prompt's description,
arguments and template; below, an input for arguments (``focus=migrations tone="very brief"``,
shell-quoted) whose Enter renders the prompt on the server, exactly as Claude Code would receive
it. Everything comes from ``GET /api/prompts`` (``nexus.client``); ``r`` reloads.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from nexus.numbers import counted
from nexus.tui.messages import LoadFailed
from nexus.tui.screens.base import NexusScreen
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.status_bar import StatusBar


def parse_arguments(line: str) -> dict[str, str]:
    """``name=value`` pairs, shell-quoted; ``ValueError`` names what is not one."""
    arguments: dict[str, str] = {}
    for item in shlex.split(line):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{item!r} is not name=value")
        arguments[name] = value
    return arguments


def preview(prompt: dict[str, Any]) -> Text:
    text = Text(prompt["name"], style="bold cyan")
    text.append(f"  {prompt.get('path', '')}\n", style="dim")
    if prompt.get("description"):
        text.append(f"{prompt['description']}\n")
    for arg in prompt.get("arguments", []):
        need = "required" if arg["required"] else "optional"
        text.append(f"  {arg['name']}", style="bold")
        text.append(f" ({need}) {arg.get('description') or ''}\n", style="dim")
    text.append("\n")
    text.append(prompt.get("template", ""))
    return text


class PromptsScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", id="prompts.reload"),
        Binding("a", "focus_arguments", "Arguments", id="prompts.arguments"),
    ]

    @dataclass
    class Listed(Message):
        body: dict[str, Any]

    @dataclass
    class Shown(Message):
        prompt: dict[str, Any] | None

    @dataclass
    class Rendered(Message):
        text: str
        is_error: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Prompts", id="status")
        with Horizontal(id="prompts-body"):
            yield OptionList(id="prompt-list")
            yield VerticalScroll(Static(id="prompt-preview"), id="prompt-preview-box")
        yield Input(placeholder='arguments: focus=migrations tone="very brief"', id="prompt-args")
        yield VerticalScroll(Static(id="prompt-rendered"), id="prompt-rendered-box")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#prompt-preview-box").border_title = "prompt"
        self.query_one("#prompt-rendered-box").border_title = "rendered (Enter in arguments)"
        self.load()

    @work(exclusive=True, group="prompts", exit_on_error=False, name="loading the prompt library")
    async def load(self) -> None:
        try:
            body = await self.nexus.client.list_prompts()
        except Exception as exc:
            self.post_message(LoadFailed("prompts", str(exc)))
            return
        self.post_message(self.Listed(body))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#prompt-preview", Static).update(
            Text(f"could not load {message.what}: {message.error}", style="bold red")
        )

    def on_prompts_screen_listed(self, message: Listed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        prompts = message.body.get("prompts", [])
        for p in prompts:
            options.add_option(Option(p["name"], id=p["name"]))
        for broken in message.body.get("errors", []):
            options.add_option(Option(Text(f"✗ {broken['path']}", style="red"), disabled=True))
        self.query_one(StatusBar).info = Text(
            f"{counted(len(prompts), 'prompt')} · "
            f"{counted(len(message.body.get('errors', [])), 'broken file')}"
        )
        if not prompts:
            self.query_one("#prompt-preview", Static).update(
                Text("No prompts: add YAML files to the prompts folder (docs/mcp.md).", style="dim")
            )
            return
        names = [p["name"] for p in prompts]
        index = names.index(self.selected) if self.selected in names else 0
        options.highlighted = index
        self.show(names[index])

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id != self.selected:
            self.show(event.option.id)

    def show(self, name: str) -> None:
        self.selected = name
        self.query_one("#prompt-rendered", Static).update("")
        self.fetch(name)

    @work(exclusive=True, group="prompt", exit_on_error=False, name="loading the prompt")
    async def fetch(self, name: str) -> None:
        try:
            prompt = await self.nexus.client.get_prompt(name)
        except Exception as exc:
            self.post_message(LoadFailed(f"prompt {name}", str(exc)))
            return
        self.post_message(self.Shown(prompt))

    def on_prompts_screen_shown(self, message: Shown) -> None:
        view = preview(message.prompt) if message.prompt else Text("gone", style="dim")
        self.query_one("#prompt-preview", Static).update(view)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.selected is None:
            return
        try:
            arguments = parse_arguments(event.value)
        except ValueError as exc:
            self.post_message(self.Rendered(str(exc), is_error=True))
            return
        self.render_selected(self.selected, arguments)

    @work(exclusive=True, group="render", exit_on_error=False, name="rendering the prompt")
    async def render_selected(self, name: str, arguments: dict[str, str]) -> None:
        try:
            text = await self.nexus.client.render_prompt(name, arguments)
        except Exception as exc:
            self.post_message(self.Rendered(str(exc), is_error=True))
            return
        self.post_message(self.Rendered(text))

    def on_prompts_screen_rendered(self, message: Rendered) -> None:
        style = "bold red" if message.is_error else ""
        self.query_one("#prompt-rendered", Static).update(Text(message.text, style=style))

    def action_reload(self) -> None:
        self.load()

    def action_focus_arguments(self) -> None:
        self.query_one("#prompt-args", Input).focus()
