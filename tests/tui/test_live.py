"""The Live screen against the fake client: paging, the live tail, pause, filters, marks."""

from __future__ import annotations

from nexus.tui.app import NexusApp
from nexus.tui.screens.live import LiveScreen
from nexus.tui.widgets.request_table import RequestTable
from tests.tui import data
from tests.tui.conftest import settle


async def test_launch_fills_the_table_with_the_newest_page(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RequestTable)
        assert isinstance(app.screen, LiveScreen)
        assert table.rows.row(0).id == data.rid(299)
        assert table.rows.loaded_rows == 100
