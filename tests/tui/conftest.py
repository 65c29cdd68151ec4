"""Fixtures of the TUI tests: a seeded fake client and an app on it (UTC, fixed clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest

from nexus.tui.app import NexusApp
from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.request import RequestScreen
from tests.tui import data
from tests.tui.fake_client import DemoClient, FakeClient, seeded


def make_test_app(client: FakeClient, **options: object) -> NexusApp:
    return NexusApp(client, tz=UTC, clock=lambda: data.T0 + 3_600_000, **options)  # type: ignore[arg-type]


@pytest.fixture
def client() -> FakeClient:
    return seeded(300)


@pytest.fixture
def app(client: FakeClient) -> NexusApp:
    return make_test_app(client)


async def open_request(pilot: object, app: NexusApp, request_id: str) -> RequestScreen:
    """The request screen of ``request_id``, loaded."""
    await settle(pilot, app)
    app.open_request(request_id)
    await settle(pilot, app)
    assert isinstance(app.screen, RequestScreen)
    return app.screen


async def open_conversation(
    pilot: object, app: NexusApp, conversation_id: str
) -> ConversationScreen:
    """The conversation screen of ``conversation_id``, loaded."""
    await settle(pilot, app)
    app.open_conversation(conversation_id)
    await settle(pilot, app)
    assert isinstance(app.screen, ConversationScreen)
    return app.screen


async def open_usage(pilot: Any, app: NexusApp) -> None:
    """The Usage view (key 3), loaded."""
    await settle(pilot, app)
    await pilot.press("3")
    await settle(pilot, app)


async def settle(pilot: object, app: NexusApp) -> None:
    """Wait until every worker but the long-lived feed is done and the messages they posted are
    handled (twice: a handled result can start the next load)."""
    for _ in range(4):
        await pilot.pause()  # type: ignore[attr-defined]
        busy = [w for w in app.workers if w.group != "feed" and not w.is_finished]
        if busy:
            await app.workers.wait_for_complete(busy)
    await pilot.pause()  # type: ignore[attr-defined]


Step = tuple[str, ...] | Callable[[NexusApp], object]  # keys to press, or a call on the app


def shot(
    snap_compare: Any, size: tuple[int, int], *steps: Step, client: FakeClient | None = None
) -> bool:
    """The app on ``client`` (a ``DemoClient``) at ``size`` after ``steps``, each let settle,
    against its snapshot."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        for step in steps:
            if callable(step):
                step(pilot.app)
            else:
                await pilot.press(*step)
            await settle(pilot, pilot.app)

    app = make_test_app(client or DemoClient())
    return bool(snap_compare(app, terminal_size=size, run_before=run_before))


def text_of(widget: object, width: int = 118) -> str:
    """What a Static shows, as plain text (its content rendered at ``width``)."""
    from rich.console import Console

    content = getattr(widget, "content", None)
    if content is None or isinstance(content, str):
        return str(content or "")
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(content)
    text = console.export_text()
    console.file.close()
    return text
