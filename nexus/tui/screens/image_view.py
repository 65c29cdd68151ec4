"""The images of one request at full size, drawn with the terminal's best graphics (Kitty's
protocol or Sixel where supported, half-blocks elsewhere): ``v`` on the request screen. Left and
right step through them; escape goes back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import ModalScreen
from textual.widgets import Static

from nexus.tui.images import Picture, image_widget
from nexus.tui.widgets.key_bar import KeyBar


class ImageScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v", "app.pop_screen", "Back", id="image.back"),
        Binding("right,n", "step(1)", "Next image", id="image.next"),
        Binding("left,N", "step(-1)", "Previous image", id="image.previous"),
    ]
    DEFAULT_CSS = """
    ImageScreen { background: $background 90%; }
    #image-title { height: 1; background: $panel; }
    #image-box { height: 1fr; align: center middle; }
    #image-box > * { width: auto; height: auto; max-width: 100%; max-height: 100%; }
    """

    def __init__(self, pictures: list[Picture]) -> None:
        super().__init__()
        self.pictures = [p for p in pictures if p.image is not None]
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Static(id="image-title")
        yield Container(id="image-box")
        yield KeyBar(show_app_keys=False)

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        box = self.query_one("#image-box", Container)
        box.remove_children()
        pic = self.pictures[self.index]
        title = Text(f" image {self.index + 1} of {len(self.pictures)} · ", style="bold")
        title.append(pic.title)
        self.query_one("#image-title", Static).update(title)
        box.mount(image_widget(pic))

    def action_step(self, step: int) -> None:
        self.index = (self.index + step) % len(self.pictures)
        self._show()
