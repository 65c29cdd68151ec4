"""Images of a chat drawn in the terminal: a base64 image block (a message's, or inside a tool
result) decoded and drawn with ``textual-image`` — Kitty's graphics protocol or Sixel where the
terminal supports them, coloured half-blocks elsewhere — under a line naming its type, pixel size
and bytes. Past ``MAX_IMAGE_BYTES`` (or when it does not decode) only that line is drawn.

``textual_image`` asks the terminal what it supports when first imported (up to three queries
with a 0.1 s timeout each), which cannot work while Textual owns the terminal. Asking at start
cost every ``nexus tui`` up to 0.3 s before its first frame, so ``learn_graphics(app)`` asks on
first need instead (the first ``v`` of a session), with the app suspended for that moment. Inside
a log of lines (the chat) an image is drawn as half-blocks (``HalfBlocks``, here: a log keeps
lines, not graphics); ``image_widget`` gives the widget that uses the terminal's best protocol
(the full-size view, ``v`` on the request screen).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text

from nexus.tui import cells

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from textual.app import App
    from textual.widget import Widget

MAX_IMAGE_BYTES = 10 * 1024 * 1024
INLINE_WIDTH = 48  # cells across an image drawn in the chat (half-blocks: two pixels a cell high)


@dataclass(frozen=True, slots=True)
class Picture:
    media_type: str
    size_bytes: int
    width: int = 0  # pixels; 0 when not decoded
    height: int = 0
    image: PILImage | None = None
    problem: str = ""  # why it is not drawn

    @property
    def title(self) -> str:
        dims = f" · {self.width}×{self.height}" if self.width else ""
        return f"{self.media_type}{dims} · {cells.size_bytes(self.size_bytes)}"


def picture(block: dict[str, Any]) -> Picture | None:
    """The image of a base64 image block; None for a URL or file reference (nothing to draw)."""
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        return None
    media = str(source.get("media_type") or "image")
    data = source.get("data")
    if not isinstance(data, str):
        return None
    size = len(data) * 3 // 4 - data[-2:].count("=")
    if size > MAX_IMAGE_BYTES:
        limit = cells.size_bytes(MAX_IMAGE_BYTES)
        return Picture(media, size, problem=f"larger than {limit}: not drawn")
    try:
        raw = base64.b64decode(data, validate=False)
        from PIL import Image, UnidentifiedImageError

        try:
            image = Image.open(io.BytesIO(raw))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError):
            return Picture(media, len(raw), problem="does not decode as an image")
    except binascii.Error:
        return Picture(media, size, problem="not valid base64")
    return Picture(media, len(raw), image.width, image.height, image)


def picture_view(
    pic: Picture, *, width: int = INLINE_WIDTH, indent: str = "    "
) -> RenderableType:
    """The title line, then the image as half-blocks (``width`` cells across at most)."""
    title = Text(f"{indent}▣ ", style="blue")
    title.append(pic.title, style="bold blue")
    if pic.image is None:
        title.append(f"  {pic.problem}", style="dim")
        return title
    return Group(title, HalfBlocks(pic.image, max(4, min(width, pic.width)), len(indent)))


def image_widget(pic: Picture) -> Widget:
    """The image as a widget drawn with the terminal's best protocol (Kitty, Sixel, half-blocks)
    once ``learn_graphics`` has run; our own half-blocks before, or when the library failed."""
    if _graphics.loaded and pic.image is not None:
        from textual_image.widget import Image as BestImage

        return BestImage(pic.image)
    from textual.widgets import Static

    return Static(picture_view(pic, width=pic.width, indent=""))


class _Graphics:
    asked = False  # textual_image has been imported (and so has asked the terminal), or tried
    loaded = False


_graphics = _Graphics()


def learn_graphics(app: App[object]) -> None:
    """Let ``textual_image`` ask the terminal which graphics it supports, once per process: with
    the app suspended (the terminal back to normal for the moment of the queries) where the
    driver can suspend, else directly (a headless app has no terminal to ask)."""
    if _graphics.asked:
        return
    _graphics.asked = True
    # A terminal that does not answer makes it log a warning with a traceback: not for the screen.
    logging.getLogger("textual_image").setLevel(logging.ERROR)
    from textual.app import SuspendNotSupported

    try:
        with app.suspend():
            _graphics.loaded = _import_graphics()
    except SuspendNotSupported:
        _graphics.loaded = _import_graphics()


def _import_graphics() -> bool:
    try:
        import textual_image.widget  # noqa: F401 - imported for its terminal query
    except Exception:  # not installed, or a terminal it cannot handle (e.g. 0 columns)
        return False
    return True


class HalfBlocks:
    """An image as coloured half-blocks (``▀``: the upper pixel as the colour, the lower as the
    background), ``width`` cells across, shifted right by ``indent`` cells. Drawn once into
    segments by the log, so scrolling never re-scales it."""

    def __init__(self, image: PILImage, width: int, indent: int = 0) -> None:
        self.image, self.width, self.indent = image, width, indent

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment
        from rich.style import Style

        width = max(1, min(self.width, options.max_width - self.indent))
        height = max(2, round(self.image.height * width / max(1, self.image.width) / 2) * 2)
        pixels = self.image.convert("RGB").resize((width, height)).tobytes()
        row = width * 3
        for y in range(0, height, 2):
            yield Segment(" " * self.indent)
            for x in range(0, row, 3):
                up = pixels[y * row + x : y * row + x + 3]
                down = pixels[(y + 1) * row + x : (y + 1) * row + x + 3]
                yield Segment("▀", Style(color=_rgb(up), bgcolor=_rgb(down)))
            yield Segment.line()


def _rgb(triple: bytes) -> str:
    return f"#{triple[0]:02x}{triple[1]:02x}{triple[2]:02x}"
