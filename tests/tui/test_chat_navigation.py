"""The chat view's tool toggle and message navigation: ``x`` hides tool calls and their results
(counting them), ``n`` / ``N`` move between the messages a person typed (tool results, reminders
and harness text are not), ``g`` to the next tool call, ``e`` to the first failed one."""

from __future__ import annotations

from typing import Any

import orjson

from nexus.tui.app import NexusApp
from nexus.tui.widgets.chat_log import ChatLog
from nexus.tui.widgets.key_bar import KeyBar
from tests.tui import data
from tests.tui.conftest import make_test_app, open_request
from tests.tui.fake_client import with_body

REMINDER = "<system-reminder>The date is Tuesday.</system-reminder>"
FILLER = "\n".join(f"line {n} of the answer" for n in range(30))  # pushes each turn off-screen


def tool_turn(n: int, *, fails: bool = False) -> list[dict[str, Any]]:
    call = {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash", "input": {"command": f"c{n}"}}
    result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": f"out {n}"}
    if fails:
        result["is_error"] = True
    return [
        {"role": "assistant", "content": [{"type": "text", "text": FILLER}, call]},
        {"role": "user", "content": [result]},
    ]


def body() -> bytes:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": REMINDER},
                                     {"type": "text", "text": "first: fix the otters test"}]},
        *tool_turn(1),
        *tool_turn(2, fails=True),
        {"role": "assistant", "content": FILLER},
        {"role": "user", "content": [{"type": "text", "text": REMINDER}]},  # harness only
        {"role": "assistant", "content": FILLER},
        {"role": "user", "content": "second: now the beavers"},
        *tool_turn(3),
    ]  # fmt: skip
    return orjson.dumps({"model": "claude-opus-4-8", "messages": messages})


def last_notice(app: NexusApp) -> str:
    return [n.message for n in app._notifications][-1]


def text_at_top(log: ChatLog) -> str:
    return log.lines[round(log.scroll_y)].text


async def open_chat(pilot: Any, app: NexusApp) -> ChatLog:
    screen = await open_request(pilot, app, data.rid(7))
    return screen.query_one("#chat-log", ChatLog)


async def test_person_message_and_tool_navigation() -> None:
    app = make_test_app(with_body(30, body()))
    async with app.run_test(size=(100, 30)) as pilot:
        log = await open_chat(pilot, app)
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        await pilot.press("n")  # from the top: the first typed message's heading is at line ≥ 1
        await pilot.pause()
        assert "message 1" in text_at_top(log)
        await pilot.press("n")  # skips tool results and the reminder-only turn
        await pilot.pause()
        assert "message 9" in text_at_top(log)
        await pilot.press("n")
        await pilot.pause()
        assert "message 9" in text_at_top(log)  # no later one: stays, and says so
        assert "no typed message below" in last_notice(app)
        await pilot.press("N")
        await pilot.pause()
        assert "message 1" in text_at_top(log)
        await pilot.press("g")
        await pilot.pause()
        assert "⚙ Bash" in text_at_top(log) and "c1" in log.lines[round(log.scroll_y) + 2].text
        await pilot.press("g")
        await pilot.pause()
        assert "c2" in log.lines[round(log.scroll_y) + 2].text
        await pilot.press("home")
        await pilot.press("e")
        await pilot.pause()
        assert "c2" in log.lines[round(log.scroll_y) + 2].text  # the failed call


async def test_hide_tools_counts_what_it_hides_and_shows_it_again() -> None:
    app = make_test_app(with_body(30, body()))
    async with app.run_test(size=(160, 30)) as pilot:
        log = await open_chat(pilot, app)
        shown = "\n".join(s.text for s in log.lines)
        assert "⚙ Bash" in shown and "out 2" in shown
        keys = app.screen.query_one(KeyBar)
        assert "x Hide tools" in keys.render().plain
        await pilot.press("x")
        await pilot.pause()
        assert "x Show tools" in keys.render().plain  # the label says what x does now
        hidden = "\n".join(s.text for s in log.lines)
        assert "⚙ Bash" not in hidden and "out 1" not in hidden and "out 2" not in hidden
        assert hidden.count("⚙ 1 tool call hidden (x shows)") == 3
        assert "first: fix the otters test" in hidden and "second: now the beavers" in hidden
        await pilot.press("g")
        await pilot.pause()
        assert "no tool call below" in last_notice(app)
        await pilot.press("x")
        await pilot.pause()
        assert "\n".join(s.text for s in log.lines) == shown
        assert "x Hide tools" in keys.render().plain
