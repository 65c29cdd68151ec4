"""The Live screen against the fake client: paging, the live tail, pause, filters, marks."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from nexus.records import RequestFilter
from nexus.tui.app import NexusApp
from nexus.tui.first_page import FirstPage
from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.live import LiveScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.filter_bar import FilterBar
from nexus.tui.widgets.request_table import RequestTable
from nexus.tui.widgets.status_bar import StatusBar
from tests.tui import data
from tests.tui.conftest import make_test_app, settle, text_of
from tests.tui.fake_client import FakeClient


def table_of(app: NexusApp) -> RequestTable:
    return app.screen.query_one(RequestTable)


def status_of(app: NexusApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_launch_fills_the_table_with_the_newest_page(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = table_of(app)
        assert isinstance(app.screen, LiveScreen)
        assert table.rows.row(0).id == data.rid(299)
        assert table.rows.loaded_rows == 100
        assert "300 requests" in status_of(app)
        assert "● live" in status_of(app)


async def test_a_prefetched_first_page_is_drawn_before_the_client_is_called(
    client: FakeClient,
) -> None:
    """``nexus tui`` fetches the newest rows while its UI imports (tui/first_page.py); the app
    draws them without asking the client, whose first call (importing httpx) waits until they are
    on the screen: then the proxy port, the feed and the count are asked for."""
    first_page: FirstPage = concurrent.futures.Future()
    first_page.set_result(await client.list_requests(limit=100))
    app = make_test_app(client, first_page=first_page)

    def rows_painted() -> bool:
        tables = app.screen.query(RequestTable) if app.screen_stack else []
        return any(t.rows.loaded_rows and t.painted_version == t.version for t in tables)

    class Witness(list[tuple[str, Any]]):
        """Each call the client gets, with whether the rows were on the screen by then."""

        def append(self, call: tuple[str, Any]) -> None:
            super().append((call[0], rows_painted()))

    client.calls = Witness()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.screen.query_one(RequestTable).rows.loaded_rows == 100
        assert {"health", "events", "count_requests"} <= {name for name, _ in client.calls}
        assert [name for name, painted in client.calls if not painted] == []


async def test_the_first_page_is_asked_for_before_the_count(
    app: NexusApp, client: FakeClient
) -> None:
    # the server answers one read at a time: a count asked first holds the first frame's rows
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        names = [c[0] for c in client.calls if c[0] in ("list_requests", "count_requests")]
        assert names[0] == "list_requests"
        assert "count_requests" in names
        assert "300 requests" in status_of(app)


async def test_scrolling_loads_pages_as_they_come_into_view(
    app: NexusApp, client: FakeClient
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = table_of(app)
        await pilot.press("end")  # last loaded row: the next page is fetched ahead
        await settle(pilot, app)
        assert table.rows.loaded_rows == 200
        await pilot.press("end")
        await settle(pilot, app)
        await pilot.press("end")
        await settle(pilot, app)
        assert table.rows.is_exhausted and len(table.rows) == 300
        assert table.current.id == data.rid(0)
        cursors = [c[1][1] for c in client.calls if c[0] == "list_requests"]
        assert cursors[:3] == [None, "100", "200"]


async def test_new_traffic_appears_on_top_while_following(
    app: NexusApp, client: FakeClient
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        client.record(data.summary(300, traffic_class=None, conversation_id=None))
        await settle(pilot, app)
        table = table_of(app)
        assert table.rows.row(0).id == data.rid(300)
        assert table.rows.row(0).traffic_class is None
        client.record(data.summary(300), kind="link")  # the linker placed it
        await settle(pilot, app)
        assert table.rows.row(0).traffic_class == "turn"
        assert len(table.rows) == 101 and "301 requests" in status_of(app)


async def test_paused_view_holds_new_rows_until_resumed(app: NexusApp, client: FakeClient) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        await pilot.press("p")
        client.record(data.summary(300))
        client.record(data.summary(301))
        await settle(pilot, app)
        table = table_of(app)
        assert table.rows.row(0).id == data.rid(299)
        assert "paused (2 new)" in status_of(app)
        await pilot.press("p")
        assert [table.rows.row(i).id for i in range(3)] == [
            data.rid(301),
            data.rid(300),
            data.rid(299),
        ]
        assert "following" in status_of(app)


async def test_the_cursor_stays_on_its_row_when_rows_arrive(
    app: NexusApp, client: FakeClient
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        await pilot.press("down", "down")
        table = table_of(app)
        before = table.current.id
        client.record(data.summary(300))
        await settle(pilot, app)
        assert table.current.id == before


async def test_filter_asks_the_api_and_new_rows_must_match(
    app: NexusApp, client: FakeClient
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        await pilot.press("slash")
        await pilot.press(*"status:5xx model:opus")
        await pilot.press("enter")
        await settle(pilot, app)
        flt = RequestFilter(model="opus", status="5xx")
        assert client.calls[-1][0] in ("list_requests", "count_requests")
        assert any(c[0] == "list_requests" and c[1][0] == flt for c in client.calls)
        table = table_of(app)
        rows = [table.rows.row(i) for i in range(len(table.rows))]
        assert rows and all(r.status == 529 and "opus" in r.model for r in rows)
        assert "filter: status:5xx model:opus" in status_of(app)
        client.record(data.summary(301))  # a sonnet 200: not shown
        client.record(data.summary(311))  # n % 13 == 12 and n % 3 == 2: haiku 529, not shown
        client.record(data.summary(324))  # opus 529: shown
        await settle(pilot, app)
        assert table.rows.row(0).id == data.rid(324)
        await pilot.press("escape")
        await settle(pilot, app)
        assert len(table.rows) > len(rows) and "filter" not in status_of(app)


async def test_a_bad_filter_says_what_is_wrong_and_stays_open(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"status:600", "enter")
        bar = app.screen.query_one(FilterBar)
        assert bar.is_open
        assert "status" in text_of(app.screen.query_one("#filter-help"))


async def test_marks_and_jumping_between_them(app: NexusApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = table_of(app)
        await pilot.press("down", "m", "down", "down", "down", "m", "home", "n")
        assert table.cursor_row == 1
        await pilot.press("n")
        assert table.cursor_row == 4
        assert table.marks == {data.rid(298), data.rid(295)}
        assert "2 marked" in status_of(app)


async def test_enter_opens_the_request_and_c_its_conversation(
    app: NexusApp, client: FakeClient
) -> None:
    client.trees[data.rid(280)] = data.linear_tree(20, conv_n=280)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RequestScreen) and app.screen.request_id == data.rid(299)
        await pilot.press("escape", "c")
        await settle(pilot, app)
        assert isinstance(app.screen, ConversationScreen)
        assert app.screen.conversation_id == data.rid(280)


async def test_an_empty_store_shows_how_to_point_claude_code_at_nexus() -> None:
    app = make_test_app(FakeClient([]), proxy_url="http://127.0.0.1:3000")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        empty = text_of(app.screen.query_one("#empty"))
        assert "ANTHROPIC_BASE_URL=http://127.0.0.1:3000 claude" in empty
        assert app.screen.query_one("#empty").display


async def test_first_traffic_into_an_empty_store_takes_the_keys() -> None:
    client = FakeClient([])
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        client.record(data.summary(1))
        await settle(pilot, app)
        assert not app.screen.query_one("#empty").display
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RequestScreen)


def test_a_narrow_table_keeps_time_class_status_tokens_cost_and_a_preview() -> None:
    from nexus.tui.columns import fit_columns, fixed_width
    from nexus.tui.widgets.request_table import MIN_PREVIEW, default_columns

    columns = default_columns(None)
    assert [c.title for c in fit_columns(columns, 200, min_flex=MIN_PREVIEW)] == [
        c.title for c in columns
    ]
    at_80 = fit_columns(columns, 80, min_flex=MIN_PREVIEW)
    titles = [c.title for c in at_80]
    assert {"time", "class", "st", "out", "cost", "preview"} <= set(titles)
    assert 80 - fixed_width(at_80) >= MIN_PREVIEW
    assert {"dur", "conv", "account"}.isdisjoint(titles)  # the least needed went first
    at_40 = [c.title for c in fit_columns(columns, 40, min_flex=MIN_PREVIEW)]
    assert at_40 == ["time", "class", "st", "out", "cost", "preview"]  # never below these
