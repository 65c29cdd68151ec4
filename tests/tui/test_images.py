"""Images in the chat: a user message's image and one inside a tool result are drawn (half-blocks
in a log) under a line with their type, pixel size and bytes; past 10 MB, or broken, only named."""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from PIL import Image
from rich.console import Console
from textual.widgets import Static

from nexus.tui import images
from nexus.tui.chat import chat_entries
from nexus.tui.images import MAX_IMAGE_BYTES, picture
from nexus.tui.screens.image_view import ImageScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.chat_log import ChatLog
from tests.tui import data
from tests.tui.conftest import make_test_app, open_request, settle, text_of
from tests.tui.fake_client import with_body


def png(width: int, height: int) -> str:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def image_block(data_b64: str, media: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data_b64}}


SCREENSHOT = png(64, 40)


def body() -> bytes:
    messages = [
        {"role": "user", "content": [image_block(SCREENSHOT), {"type": "text", "text": "what is this?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                           "input": {"file_path": "shot.png"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [image_block(png(20, 10))]}]},
    ]  # fmt: skip
    return orjson.dumps({"model": "claude-opus-4-8", "messages": messages})


async def test_images_of_a_message_and_a_tool_result_are_drawn_with_type_size_and_bytes() -> None:
    app = make_test_app(with_body(5, body()))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(3))
        log = screen.query_one("#chat-log", ChatLog)
        text = "\n".join(strip.text for strip in log.lines)
        size = len(base64.b64decode(SCREENSHOT))
        assert f"▣ image/png · 64×40 · {size} B" in text
        assert "▣ image/png · 20×10 ·" in text  # the tool result's
        assert "[image:" not in text  # each drawn image is announced once, by its title line
        assert sum(line.text.count("▀") for line in log.lines) > 40 * 20 // 2  # drawn, not named
        await pilot.press("x")  # hiding tool calls hides the result's image too
        await pilot.pause()
        assert "20×10" not in "\n".join(strip.text for strip in log.lines)


def test_a_tool_result_names_an_image_only_when_there_is_nothing_to_draw() -> None:
    url_image = {"type": "image", "source": {"type": "url", "url": "https://example.test/a.png"}}
    content = [{"type": "text", "text": "two shots"}, image_block(png(4, 4)), url_image]
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": content}],
            },
        ]
    }
    (tool,) = [e for e in chat_entries(orjson.dumps(body), None) if e.kind == "tool"]
    assert tool.result == "two shots\n[image: https://example.test/a.png]"
    assert [b["source"]["type"] for b in tool.images] == ["base64"]


def test_past_ten_megabytes_or_broken_an_image_is_named_not_drawn() -> None:
    big = picture(image_block("A" * (MAX_IMAGE_BYTES * 4 // 3 + 8)))
    assert big is not None and big.image is None and "larger than 10.0 MB" in big.problem
    broken = picture(image_block(base64.b64encode(b"not a png").decode()))
    assert broken is not None and broken.image is None and "does not decode" in broken.problem
    assert picture({"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}) is None
    fine = picture(image_block(png(3, 2), "image/png"))
    assert fine is not None and (fine.width, fine.height) == (3, 2)


# textual-image 0.12 calls Pillow's getdata, deprecated in Pillow 12 (its problem, not ours)
@pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")
async def test_v_shows_the_images_at_full_size_one_at_a_time() -> None:
    app = make_test_app(with_body(5, body()))
    async with app.run_test(size=(100, 40)) as pilot:
        await open_request(pilot, app, data.rid(3))
        await pilot.press("v")
        await settle(pilot, app)
        assert isinstance(app.screen, ImageScreen)
        assert "image 1 of 2 · image/png · 64×40" in text_of(app.screen.query_one("#image-title"))
        await pilot.press("right")
        await settle(pilot, app)
        assert "image 2 of 2 · image/png · 20×10" in text_of(app.screen.query_one("#image-title"))
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RequestScreen)


class SuspendingApp:
    """Records whether the terminal was handed back (suspended) while the graphics were asked."""

    def __init__(self) -> None:
        self.suspended = False

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        self.suspended = True
        try:
            yield
        finally:
            self.suspended = False


def test_the_terminal_is_asked_for_its_graphics_once_on_first_need_with_the_app_suspended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(images, "_graphics", images._Graphics())
    app = SuspendingApp()
    asked: list[bool] = []

    def ask() -> bool:
        asked.append(app.suspended)
        return False  # as when the library cannot load: our own half-blocks draw the image

    monkeypatch.setattr(images, "_import_graphics", ask)
    images.learn_graphics(app)  # type: ignore[arg-type]
    images.learn_graphics(app)  # type: ignore[arg-type]
    assert asked == [True]
    pic = picture(image_block(png(6, 4)))
    assert pic is not None
    widget = images.image_widget(pic)
    assert isinstance(widget, Static)
    console = Console(width=40, record=True, file=io.StringIO())
    console.print(widget.content)
    assert console.export_text().count("▀") == 6 * 2  # 6 cells across, 4 pixels = 2 rows


def test_parsing_the_tui_options_does_not_import_pydantic() -> None:
    """typer 0.29 builds a pydantic validator per option (~0.15 s of CPU per start), so it is held
    below 0.29 (pyproject.toml, docs/tui.md). --branch alone stops after parsing every option."""
    code = (
        "import atexit, sys;"
        "atexit.register(lambda: print('pydantic' in sys.modules));"
        "sys.argv = ['nexus', 'tui', '--server', 'http://127.0.0.1:9', '--branch', 'main'];"
        "from nexus.cli.main import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2 and "--conversation" in done.stderr  # the options were parsed
    assert done.stdout.strip() == "False"


def test_starting_the_tui_loads_no_image_chart_or_other_view_code() -> None:
    """What the first frame does not need stays out of a cold start (docs/tui.md, Measured), and
    nothing asks the terminal anything before Textual owns it. httpx comes with the client's first
    call, once the prefetched rows are drawn."""
    code = (
        "import sys, nexus.cli.tui, nexus.client, nexus.tui.app, nexus.tui.first_page;"
        "late = {'textual_image', 'PIL', 'plotext', 'textual_plotext', 'httpx',"
        " 'nexus.tui.screens.conversations', 'nexus.tui.screens.request',"
        " 'nexus.tui.screens.usage'} & set(sys.modules);"
        "print(sorted(late))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
