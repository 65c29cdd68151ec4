"""SVG snapshots of the main screens at 120×40, and at 80×24 where a narrow terminal changes the
layout, on fixed data (``DemoClient``: fixed ids, times, UTC, a fixed clock). Update with
``pytest tests/tui/test_snapshots.py --snapshot-update``."""

from __future__ import annotations

from typing import Any

from tests.tui import data
from tests.tui.conftest import make_test_app, settle
from tests.tui.fake_client import DemoClient

SIZE = (120, 40)
NARROW = (80, 24)


def demo_app() -> Any:
    return make_test_app(DemoClient())


async def _settled(pilot: Any) -> None:
    await settle(pilot, pilot.app)


def test_live_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("down", "m", "down", "down")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_live_screen_filtered(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("slash", *"status:5xx", "enter")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_request_detail_chat(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        pilot.app.open_request(data.rid(298))
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_conversations_list(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("2")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_conversation_tree(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        pilot.app.open_conversation(data.rid(1000))
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_conversation_timeline(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        pilot.app.open_conversation(data.rid(1000))
        await _settled(pilot)
        await pilot.press("l")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_usage_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("3")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_live_screen_at_80_columns(snap_compare: Any) -> None:
    """Time, class, status, tokens, cost and the preview stay; the rest gives way."""

    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("down")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=run_before)


def test_conversations_list_at_80_columns(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("2")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=run_before)


def test_request_detail_chat_at_80_columns(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        pilot.app.open_request(data.rid(298))
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=run_before)


def test_conversation_tree_at_80_columns(snap_compare: Any) -> None:
    """The header keeps three lines (title cut, full id; the time span gives way)."""

    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        pilot.app.open_conversation(data.rid(1000))
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=run_before)


def test_usage_window_history(snap_compare: Any) -> None:
    """The 5h window climbing and starting again at each reset (red lines), the 7d creeping up."""

    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("3")
        await _settled(pilot)
        await pilot.press("w")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_usage_requests_per_host_at_80_columns(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        await pilot.press("3")
        await _settled(pilot)
        await pilot.press("c", "c", "g")
        await _settled(pilot)

    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=run_before)
