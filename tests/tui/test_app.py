"""App-wide behaviour: navigation keys, the command palette, the connection state and reconnects,
the usage screen, and the import rule (the TUI never loads server-side libraries)."""

from __future__ import annotations

import subprocess
import sys

from textual_plotext import PlotextPlot

from nexus.tui.app import NexusApp
from nexus.tui.feed import Link
from nexus.tui.screens.conversations import ConversationsScreen
from nexus.tui.screens.live import LiveScreen
from nexus.tui.screens.usage import UsageScreen
from nexus.tui.usage_data import window_history
from nexus.tui.widgets.request_table import RequestTable
from nexus.tui.widgets.status_bar import StatusBar
from tests.tui import data
from tests.tui.conftest import make_test_app, open_usage, settle, text_of
from tests.tui.fake_client import DemoClient, FakeClient


async def test_number_keys_switch_views_and_keep_their_state(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("down", "down")
        await pilot.press("2")
        assert isinstance(app.screen, ConversationsScreen)
        await pilot.press("3")
        assert isinstance(app.screen, UsageScreen)
        await pilot.press("1")
        assert isinstance(app.screen, LiveScreen)
        assert app.screen.query_one(RequestTable).cursor_row == 2


async def test_every_binding_of_the_screen_is_a_palette_command(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for expected in ("Filter", "Pause/follow", "Mark", "Conversation", "Live", "Usage", "Quit"):
            assert expected in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Usage")
        command.callback()
        await settle(pilot, app)
        assert isinstance(app.screen, UsageScreen)


async def test_every_binding_has_an_id_and_a_description() -> None:
    from nexus.tui.screens.conversation import ConversationScreen
    from nexus.tui.screens.request import RequestScreen

    for owner in (
        NexusApp,
        LiveScreen,
        ConversationsScreen,
        UsageScreen,
        ConversationScreen,
        RequestScreen,
        RequestTable,
    ):
        for binding in owner.BINDINGS:
            assert binding.id and binding.description, (owner.__name__, binding)  # type: ignore[union-attr]


async def test_losing_the_server_is_shown_and_missed_rows_arrive_on_reconnect(
    app: NexusApp, client: FakeClient
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        client.go_offline()
        await settle(pilot, app)
        assert app.connection.link is Link.RECONNECTING
        assert "offline" in str(app.screen.query_one(StatusBar).render())
        client.record(data.summary(300))  # recorded while the TUI could not see it
        client.record(data.summary(301))
        client.go_online()
        await client.feed_opened.wait()
        await settle(pilot, app)
        assert app.connection.link is Link.LIVE
        table = app.screen.query_one(RequestTable)
        assert [table.rows.row(i).id for i in range(3)] == [
            data.rid(301),
            data.rid(300),
            data.rid(299),
        ]
        assert table.rows.loaded_rows == 102  # kept every row it had


async def test_a_failed_call_is_reported_not_fatal(app: NexusApp, client: FakeClient) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        client.online.clear()
        await pilot.press("r")
        await settle(pilot, app)
        messages = [n.message for n in app._notifications]
        # what failed, in words (not the worker's function name), then the client's reason
        assert any(m.startswith("counting requests failed: cannot reach") for m in messages)
        assert not any("count_rows" in m or "fetch_page" in m for m in messages)
        client.online.set()


async def test_usage_screen_draws_windows_totals_and_a_chart() -> None:
    client = DemoClient()
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_usage(pilot, app)
        windows = text_of(app.screen.query_one("#windows"))
        assert "72.0%" in windows and "binding" in windows and "estimate" in windows
        totals = text_of(app.screen.query_one("#totals"))
        assert "alice" in totals and "bob" in totals
        assert ("usage", (("account",), "hour")) in client.calls
        await pilot.press("d")
        await settle(pilot, app)
        assert ("usage", (("account",), "day")) in client.calls
        await pilot.press("c")
        assert app.screen.measure == "cost"
        assert app.screen.query_one(PlotextPlot).plt is not None


def test_the_tui_never_imports_server_side_libraries() -> None:
    code = (
        "import sys, nexus.tui.app, nexus.cli.main, nexus.client\n"
        "bad = [m for m in ('quart', 'hypercorn', 'asyncpg', 'aiosqlite', 'nexus.store', "
        "'nexus.api', 'nexus.proxy') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_usage_charts_cycle_measure_period_group_and_window_history() -> None:
    client = DemoClient()
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_usage(pilot, app)
        screen = app.screen
        status = screen.query_one(StatusBar)
        assert "tokens by hour per account · last 24 hours" in str(status.render())
        await pilot.press("c", "c")
        assert "requests by hour per account" in str(status.render())
        await pilot.press("g")
        await settle(pilot, app)
        assert ("usage", (("host",), "hour")) in client.calls
        assert "requests by hour per host" in str(status.render())
        await pilot.press(
            "g"
        )  # per person: the named client keys, as `nexus usage --by client_key`
        await settle(pilot, app)
        assert ("usage", (("client_key",), "hour")) in client.calls
        assert ("usage", (("client_key",), None)) in client.calls  # the totals follow
        assert "requests by hour per person" in str(status.render())
        totals = text_of(screen.query_one("#totals"))
        assert "person" in totals and "ann@team.example" in totals and "raj@team.example" in totals
        assert screen.query_one("#totals-box").border_title == "totals by person"
        await pilot.press("g")
        await settle(pilot, app)
        assert "requests by hour per account" in str(status.render())
        await pilot.press("p")
        await settle(pilot, app)
        assert "last 48 hours" in str(status.render())
        await pilot.press("w")
        assert "window utilization · last 48 hours" in str(status.render())


def test_window_history_has_the_readings_and_the_resets_in_the_span() -> None:
    now = data.T0 + 3_600_000
    history = window_history(data.windows_doc(), now, now - 24 * 3_600_000)
    five, seven = history  # alice's; bob has estimates only (no series)
    assert (five.account, five.window, seven.window) == ("alice", "5h", "7d")
    assert len(five.hours_ago) == 48 and (five.hours_ago[0], five.hours_ago[-1]) == (-24, -0.5)
    assert max(five.percent) <= 90 and min(five.percent) >= 0
    # every five hours, the last 72 minutes after T0 (still ahead of now: not a reset yet)
    assert five.resets_hours_ago == [-19.8, -14.8, -9.8, -4.8]
    assert seven.resets_hours_ago == []  # its reset is days ahead


async def test_views_that_failed_while_the_server_was_away_load_when_it_is_back() -> None:
    client = DemoClient()
    client.online.clear()  # no server at launch
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("2")
        await settle(pilot, app)
        conversations = app.screen
        assert isinstance(conversations, ConversationsScreen) and not conversations.loaded
        await pilot.press("1")
        await settle(pilot, app)
        live = app.screen.query_one(RequestTable)
        assert not live.rows.is_loaded
        client.go_online()
        await client.feed_opened.wait()
        await settle(pilot, app)
        assert live.rows.loaded_rows > 0  # Live asked again on connect
        assert conversations.loaded  # and so did the Conversations view


async def test_window_history_without_readings_says_so() -> None:
    client = FakeClient([data.summary(n) for n in range(3)])
    client.windows_body = {"accounts": [{"account": "bob", "windows": [], "series": []}]}
    app = make_test_app(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_usage(pilot, app)
        await pilot.press("w")
        await settle(pilot, app)
        # the chart says why it is empty; the status line does not repeat it, so it fits 120
        # columns whole (repeated, it was cut mid-sentence)
        chart = app.screen.query_one(PlotextPlot)
        assert "no rate-limit readings in this period" in str(chart.render())
        status = str(app.screen.query_one(StatusBar).render())
        assert "window utilization" in status and len(status.strip()) <= 120
