"""Request detail: tabs, thinking, copy as curl, save the exact body."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import TabbedContent

from nexus.tui.app import NexusApp
from nexus.tui.widgets.chat_log import ChatLog
from nexus.tui.widgets.json_tree import JsonTree
from tests.tui import data
from tests.tui.conftest import make_test_app, open_request, settle, text_of
from tests.tui.fake_client import FakeClient


def log_text(log: ChatLog) -> str:
    return "\n".join(strip.text for strip in log.lines)


async def test_chat_tab_shows_roles_tools_with_results_and_collapsed_thinking(
    app: NexusApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        chat = log_text(screen.query_one("#chat-log", ChatLog))
        assert "▌ user" in chat and "▌ assistant" in chat
        assert (
            "⚙ Bash" in chat and "pytest -q tests/store" in chat and "1 failed, 41 passed" in chat
        )
        assert "▣ image/png · 1.6 KB  does not decode as an image" in chat  # not a real PNG
        assert "thinking · 30 chars" in chat and "Let me look at the test first." not in chat
        await pilot.press("t")
        chat = log_text(screen.query_one("#chat-log", ChatLog))
        assert "Let me look at the test first." in chat
        await pilot.press("r")  # a log renders once its tab gives it a size
        await pilot.pause()
        assert "42 passed" in log_text(screen.query_one("#response-log", ChatLog))


async def test_tab_keys_switch_tabs_and_raw_json_folds(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        tabs = screen.query_one(TabbedContent)
        for key, tab in (
            ("h", "headers"),
            ("u", "timing"),
            ("j", "raw"),
            ("r", "response"),
            ("c", "chat"),
        ):
            await pilot.press(key)
            assert tabs.active == tab
        tree = screen.query_one(JsonTree)
        request_node = tree.root.children[0]
        assert str(request_node.label).startswith("request")
        messages = next(c for c in request_node.children if str(c.label).startswith("messages"))
        assert not messages.is_expanded and len(messages.children) == 0  # built when opened
        messages.expand()
        await pilot.pause()
        assert len(messages.children) == 3


async def test_headers_tab_never_shows_a_secret(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        await pilot.press("h")
        text = text_of(screen.query_one("#headers-body"))
        assert "anthropic-version" in text and "[redacted]" in text


async def test_copy_as_curl_puts_a_replayable_command_on_the_clipboard(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await open_request(pilot, app, data.rid(7))
        await pilot.press("y")
        assert app.clipboard.startswith("curl -X POST http://127.0.0.1:3000/v1/messages")
        assert "$ANTHROPIC_API_KEY" in app.clipboard


async def test_save_writes_the_exact_request_body(tmp_path: Path, client: FakeClient) -> None:
    app = make_test_app(client, save_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_request(pilot, app, data.rid(7))
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, app)
        saved = tmp_path / f"nexus-request-{data.rid(7)}.json"
        assert saved.read_bytes() == data.request_body(data.summary(7))


async def test_a_missing_request_is_said_so(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, "f" * 32)
        assert "no such request" in text_of(screen.query_one("#request-head"))


async def test_wire_tab_shows_the_response_bytes_as_received(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        await pilot.press("w")
        await settle(pilot, app)
        await pilot.pause()
        log = screen.query_one("#wire-log")
        assert [strip.text for strip in log.lines][:2] == ["event: message_start", "data: {}"]


def test_the_head_names_the_person_whose_key_made_the_call() -> None:
    from types import SimpleNamespace

    from nexus.tui.screens.request import head_text

    app = SimpleNamespace(tz=None)
    named = data.stored(data.summary(3, client_key_id="alice@team.example"))
    assert "by alice@team.example" in head_text(named, app).plain  # type: ignore[arg-type]
    shared = data.stored(data.summary(3))
    assert " by " not in head_text(shared, app).plain  # type: ignore[arg-type]


def test_the_auth_row_says_it_in_words() -> None:
    import dataclasses
    from types import SimpleNamespace

    from rich.console import Console

    from nexus.tui.screens.request import timing_table

    app = SimpleNamespace(tz=None)
    for mode, words in [("passthrough", "pass-through (the client's own key)"),
                        ("oauth", "team OAuth token")]:  # fmt: skip
        stored = dataclasses.replace(data.stored(data.summary(3)), auth_mode=mode)
        console = Console(width=120, record=True)
        console.print(timing_table(stored, app))  # type: ignore[arg-type]
        line = next(r for r in console.export_text().splitlines() if r.strip().startswith("auth"))
        assert line.strip().removeprefix("auth").strip() == words


async def test_the_usage_tab_scrolls_with_the_keyboard_at_80x24(app: NexusApp) -> None:
    """At 80×24 the Usage & timing table is taller than its tab: the keys that scroll a page must
    reach it as soon as the tab is chosen with its key."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        await pilot.press("u")
        await pilot.pause()
        body = screen.query_one("#timing-body").parent
        assert isinstance(body, VerticalScroll)
        assert body.max_scroll_y > 0  # it does overflow here
        await pilot.press("down")
        await pilot.pause()
        assert body.scroll_y == 1
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y  # the last rows can be read
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0
        await pilot.press("h")  # the same for the headers
        await pilot.pause()
        assert app.focused is screen.query_one("#headers-body").parent
