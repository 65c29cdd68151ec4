"""The key bar at narrow widths: whole entries or none, in binding order, and ^p always there."""

from __future__ import annotations

import pytest

from nexus.tui.app import NexusApp
from nexus.tui.widgets.key_bar import KeyBar
from tests.tui.conftest import settle


@pytest.mark.parametrize("width", [60, 80, 100])
async def test_the_key_bar_drops_whole_entries_from_the_end_and_keeps_the_palette_hint(
    app: NexusApp, width: int
) -> None:
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot, app)
        bar = app.screen.query_one(KeyBar)
        line = bar.render().plain
        entries = [entry.plain for entry, _action, _node in bar._entries()]
        assert len(line) == width and line.endswith(" ^p commands ")
        shown = line[: -len(" ^p commands ")].rstrip(" ")
        # What is shown is exactly the first n entries, each whole; the (n+1)th did not fit.
        n = next(
            i for i in range(len(entries), -1, -1) if "".join(entries[:i]).rstrip(" ") == shown
        )
        assert n < len(entries), "at these widths some keys must be left to the palette"
        assert len("".join(entries[: n + 1])) > width - len(" ^p commands ")
        assert n >= 3  # the screen's own first keys always make it
