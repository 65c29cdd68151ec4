"""SVG snapshots of the main screens at 120×40, and at 80×24 where a narrow terminal changes the
layout, on fixed data (``DemoClient``: fixed ids, times, UTC, a fixed clock). Update with
``pytest tests/tui/test_snapshots.py --snapshot-update``."""

from __future__ import annotations

from typing import Any

from nexus.tui.app import NexusApp
from tests.tui import data
from tests.tui.conftest import shot

SIZE = (120, 40)
NARROW = (80, 24)


def open_request(app: NexusApp) -> None:
    app.open_request(data.rid(298))


def open_conversation(app: NexusApp) -> None:
    app.open_conversation(data.rid(1000))


def test_live_screen(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, ("down", "m", "down", "down"))


def test_live_screen_filtered(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, ("slash", *"status:5xx", "enter"))


def test_request_detail_chat(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, open_request)


def test_conversations_list(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, ("2",))


def test_conversation_tree(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, open_conversation)


def test_conversation_timeline(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, open_conversation, ("l",))


def test_usage_screen(snap_compare: Any) -> None:
    assert shot(snap_compare, SIZE, ("3",))


def test_live_screen_at_80_columns(snap_compare: Any) -> None:
    """Time, class, status, tokens, cost and the preview stay; the rest gives way."""
    assert shot(snap_compare, NARROW, ("down",))


def test_conversations_list_at_80_columns(snap_compare: Any) -> None:
    assert shot(snap_compare, NARROW, ("2",))


def test_request_detail_chat_at_80_columns(snap_compare: Any) -> None:
    assert shot(snap_compare, NARROW, open_request)


def test_conversation_tree_at_80_columns(snap_compare: Any) -> None:
    """The header keeps three lines (title cut, full id; the time span gives way)."""
    assert shot(snap_compare, NARROW, open_conversation)


def test_usage_window_history(snap_compare: Any) -> None:
    """The 5h window climbing and starting again at each reset (red lines), the 7d creeping up."""
    assert shot(snap_compare, SIZE, ("3",), ("w",))


def test_usage_requests_per_host_at_80_columns(snap_compare: Any) -> None:
    assert shot(snap_compare, NARROW, ("3",), ("c", "c", "g"))
