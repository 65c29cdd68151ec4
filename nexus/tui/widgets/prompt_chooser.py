"""``PromptChooser``: which prompt a re-run of the analysis follows — the built-in one (an empty
line) or a prompt file (its path). Enter answers, escape cancels (``None``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class PromptChooser(ModalScreen[str | None]):
    """Answers ``""`` for the built-in prompt, the path typed for a prompt file, ``None`` when
    cancelled."""

    DEFAULT_CSS = """
    PromptChooser { align: center middle; }
    PromptChooser > Vertical {
        width: 80; max-width: 100%; height: auto; border: thick $accent; background: $surface;
        padding: 1 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt_chooser.cancel"),
    ]

    def __init__(self, branch: str, last_file: str = "") -> None:
        super().__init__()
        self._branch = branch
        self._last_file = last_file

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Run the analysis of branch {self._branch} again", style="bold"))
            yield Static(
                Text(
                    "With which prompt? Leave the line empty for the built-in one, or give a "
                    "prompt file: your instructions in place of the built-in ones (what to look "
                    "at, for whom); the answer fills the same fields.",
                    style="dim",
                )
            )
            yield Input(self._last_file, placeholder="built-in · or a path, e.g. ~/review.md")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
