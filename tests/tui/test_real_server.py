"""The TUI against a real ``nexus serve`` (proxy, writer, linker, API) on a seeded SQLite store and
the fake upstream: launch, filters, detail, trees, the live tail receiving traffic sent with the
anthropic SDK, analysis and usage, and a reconnect after the server restarts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import anthropic
import pytest
from textual.widgets import Input, Static

from nexus.client import NexusClient
from nexus.records import RequestFilter
from nexus.tui import cells
from nexus.tui.app import NexusApp, make_app
from nexus.tui.feed import Link
from nexus.tui.first_page import prefetch_requests
from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.conversations import ConversationsScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.analysis_panel import AnalysisPanel
from nexus.tui.widgets.chat_log import ChatLog
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from nexus.tui.widgets.filter_bar import FilterBar
from nexus.tui.widgets.request_table import RequestTable
from nexus.tui.widgets.stat_cards import StatCards
from nexus.tui.widgets.status_bar import StatusBar
from tests.fakes.nexus import StartNexus
from tests.tui.conftest import settle, text_of
from tests.tui.seed import T0, seed


@pytest.fixture
async def served(start_nexus: StartNexus) -> AsyncIterator[tuple[Any, NexusClient, list[Any]]]:
    server = await start_nexus()
    records = await seed(server)
    async with NexusClient(server.endpoints.api_url) as client:
        yield server, client, records


def tui(server: Any, client: NexusClient) -> NexusApp:
    # The clock stands a little after the seeded traffic, so "the last 24 hours" holds it.
    return make_app(server.settings, client, tz=UTC, clock=lambda: T0 + 3_600_000)


async def wait_for(pilot: Any, app: NexusApp, predicate: Any, tries: int = 200) -> None:
    """Let the app run until ``predicate()`` holds (events cross a real socket)."""
    for _ in range(tries):
        await settle(pilot, app)
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("the TUI never showed what was expected")


async def conversation_drawn(pilot: Any, app: NexusApp) -> ConversationScreen:
    """The conversation screen, once it has drawn the conversation it was pointed at."""
    await wait_for(
        pilot, app, lambda: isinstance(app.screen, ConversationScreen) and app.screen.drawn
    )
    assert isinstance(app.screen, ConversationScreen)
    return app.screen


def newest_ids(table: RequestTable, n: int) -> list[str]:
    return [table.rows.row(i).id for i in range(n)]  # type: ignore[union-attr]


async def test_launch_shows_the_newest_requests_and_the_count(served: Any) -> None:
    server, client, records = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RequestTable)
        await wait_for(pilot, app, lambda: table.rows.loaded_rows == 24 and app.connection.is_live)
        newest = sorted(records, key=lambda r: r.exchange.started_at_ms, reverse=True)
        assert newest_ids(table, 3) == [r.id for r in newest[:3]]
        assert "24 requests" in str(app.screen.query_one(StatusBar).render())
        assert table.rows.row(0).traffic_class == "turn" and table.rows.row(0).conversation_id


async def test_the_prefetched_first_page_is_the_clients_first_page(served: Any) -> None:
    """What ``nexus tui`` fetches with the standard library at launch is what the client reads;
    a refused key or an https server gives None (the screen then asks the usual way)."""
    server, client, _ = served
    url = server.endpoints.api_url
    prefetched = await asyncio.wrap_future(prefetch_requests(url, None, 10))
    assert prefetched == await client.list_requests(limit=10)
    assert prefetched is not None and len(prefetched.items) == 10
    assert await asyncio.wrap_future(prefetch_requests(f"{url}/nowhere", None, 10)) is None
    assert prefetch_requests(url.replace("http:", "https:"), None, 10).result(0) is None


async def test_filter_goes_to_the_api(served: Any) -> None:
    server, client, records = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RequestTable)
        await wait_for(pilot, app, lambda: table.rows.loaded_rows == 24)
        await pilot.press("slash", *"account:team-b status:5xx", "enter")
        expected = {
            r.id for r in records if r.exchange.account_id == "team-b" and r.exchange.status == 529
        }
        await wait_for(pilot, app, lambda: {r.id for r in table.rows} == expected)
        assert expected and app.screen.filter == RequestFilter(account_id="team-b", status="5xx")
        await pilot.press("slash", *'q:"migration"', "enter")
        await wait_for(pilot, app, lambda: table.rows.is_loaded and len(table.rows) > 0)
        assert all("migration" in r.user_preview for r in table.rows)


async def test_conversation_search_finds_a_word_of_any_request(served: Any) -> None:
    """The word "otters" said in the middle of a conversation (not its title, not its last prompt) finds
    it through the server's search index; a key the list cannot honour is refused, saying why."""
    server, client, _ = served
    from nexus.conversations.worker import ConversationLinker
    from tests.factories import turn

    first = turn(None, "hello", T0 + 60_000, session_id="zoo", account_id="team-a")
    middle = turn(first, "tell me about otters", T0 + 61_000)
    last = turn(middle, "thanks", T0 + 62_000)
    await server.store.write_batch([first, middle, last])
    await ConversationLinker(server.store).link_batch([first, middle, last])
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, app, lambda: isinstance(app.screen, ConversationsScreen))
        screen = app.screen
        assert isinstance(screen, ConversationsScreen)
        await wait_for(pilot, app, lambda: len(screen.rows) == 5)
        await pilot.press("slash", *"otters", "enter")
        await wait_for(pilot, app, lambda: [c.id for c in screen.rows] == [first.id])
        await pilot.press("slash", "ctrl+u", *"status:5xx", "enter")
        await settle(pilot, app)
        bar = screen.query_one(FilterBar)
        assert bar.is_open and screen.filter == RequestFilter(text="otters")
        said = str(bar.query_one("#filter-help", Static).render())
        assert "status: this view cannot filter by it" in said and "single status" in said
        assert "status:" not in bar.query_one(Input).placeholder


async def test_stat_cards_sum_the_period_from_the_usage_api(served: Any) -> None:
    server, client, records = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, app, lambda: isinstance(app.screen, ConversationsScreen))
        cards = app.screen.query_one(StatCards)
        await wait_for(pilot, app, lambda: "…" not in text_of(cards))
        tokens = sum(r.usage.total_tokens for r in records)
        cached = sum(r.usage.cache_read_input_tokens for r in records)
        prompt = sum(r.usage.context_tokens for r in records)
        values, labels = text_of(cards).splitlines()[:2]
        assert labels.split() == ["p:", "period", "convs", "people", "accounts", "requests",
                                  "tokens", "cost", "cache", "hit"]  # fmt: skip
        assert values.split()[:5] == ["24h", "4", "–", "2", "24"]
        assert values.split()[5] == cells.tokens(tokens)
        assert values.split()[7] == f"{cached / prompt:.0%}"
        await pilot.press("slash", *"account:team-a", "enter")  # the cards follow the filter
        await wait_for(
            pilot, app, lambda: text_of(cards).split()[:5] == ["24h", "2", "–", "1", "12"]
        )
        await pilot.press("p")  # 7 days: the same traffic
        await wait_for(pilot, app, lambda: text_of(cards).split()[:2] == ["7d", "2"])


async def test_detail_and_tree_of_a_recorded_conversation(served: Any) -> None:
    server, client, records = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RequestTable)
        await wait_for(pilot, app, lambda: table.rows.loaded_rows == 24)
        await pilot.press("enter")
        await wait_for(
            pilot, app, lambda: isinstance(app.screen, RequestScreen) and app.screen.stored
        )
        chat = "\n".join(s.text for s in app.screen.query_one("#chat-log", ChatLog).lines)
        assert "▌ user" in chat and "Done: the test passes now." in chat
        await pilot.press("h")
        assert "[redacted]" in text_of(app.screen.query_one("#headers-body"))
        await pilot.press("o")
        await conversation_drawn(pilot, app)
        view = app.screen.query_one(ConversationTreeView)
        assert len(view.nodes_by_id) == 6
        assert view.cursor_node.data.id == table.rows.row(0).id  # the request it came from


async def test_live_tail_receives_traffic_sent_through_the_proxy(served: Any) -> None:
    server, client, _ = served
    app = tui(server, client)
    sdk = anthropic.AsyncAnthropic(base_url=server.endpoints.proxy_url, api_key="sk-ant-test")
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RequestTable)
        await wait_for(pilot, app, lambda: table.rows.loaded_rows == 24 and app.connection.is_live)
        async with sdk.messages.stream(
            model="claude-opus-4-8",
            max_tokens=100,
            messages=[{"role": "user", "content": "hello from the live tail test"}],
        ) as stream:
            await stream.get_final_message()
        await wait_for(
            pilot, app, lambda: table.rows.row(0).user_preview == "hello from the live tail test"
        )
        await wait_for(pilot, app, lambda: table.rows.row(0).traffic_class is not None)  # linked
        assert "25 requests" in str(app.screen.query_one(StatusBar).render())
    await sdk.close()


async def test_reconnects_after_a_restart_without_losing_rows(start_nexus: StartNexus) -> None:
    ports = [_free_port(), _free_port()]
    server = await start_nexus(proxy_port=ports[0], api_port=ports[1])
    await seed(server, conversations=2, turns=3)
    async with NexusClient(server.endpoints.api_url) as client:
        app = tui(server, client)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.screen.query_one(RequestTable)
            await wait_for(
                pilot, app, lambda: table.rows.loaded_rows == 6 and app.connection.is_live
            )
            await server.stop()
            await wait_for(pilot, app, lambda: app.connection.link is Link.RECONNECTING)
            assert "offline" in str(app.screen.query_one(StatusBar).render())
            assert table.rows.loaded_rows == 6  # rows stay while the server is away
            again = await start_nexus(proxy_port=ports[0], api_port=ports[1])
            await wait_for(pilot, app, lambda: app.connection.is_live, tries=600)
            sdk = anthropic.AsyncAnthropic(
                base_url=again.endpoints.proxy_url, api_key="sk-ant-test"
            )
            await sdk.messages.create(
                model="claude-opus-4-8",
                max_tokens=50,
                messages=[{"role": "user", "content": "after the restart"}],
            )
            await sdk.close()
            await wait_for(
                pilot, app, lambda: table.rows.row(0).user_preview == "after the restart"
            )
            assert table.rows.loaded_rows == 7


async def test_analysis_runs_and_the_panel_fills_in_from_the_live_feed(
    start_nexus: StartNexus, fake_gemini: Any
) -> None:
    server = await start_nexus(gemini_api_key="test-key", gemini_url=fake_gemini.url)
    await seed(server, conversations=1, turns=3)
    async with NexusClient(server.endpoints.api_url) as client:
        conversation = (await client.list_conversations()).items[0]
        app = tui(server, client)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, app, lambda: app.connection.is_live)
            app.open_conversation(conversation.id)
            await conversation_drawn(pilot, app)
            await pilot.press("a")
            panel = app.screen.query_one(AnalysisPanel)
            await wait_for(pilot, app, lambda: panel.state in ("pending", "running", "done"))
            await wait_for(pilot, app, lambda: panel.state == "done", tries=1500)
            assert panel.has_class("-done")
            assert len(fake_gemini.calls) >= 1


async def test_analysis_key_reports_what_the_server_says(served: Any) -> None:
    server, client, records = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        conversation = (await client.list_conversations()).items[0]
        app.open_conversation(conversation.id)
        await conversation_drawn(pilot, app)
        await pilot.press("a")
        panel = app.screen.query_one(AnalysisPanel)
        await wait_for(pilot, app, lambda: panel.state is not None)
        # No GEMINI_API_KEY on this server: the panel shows the server's refusal.
        assert panel.state == "error"
        assert "GEMINI_API_KEY" in text_of(panel.query_one("#analysis-state"))


async def test_usage_screen_reads_the_usage_and_windows_routes(served: Any) -> None:
    server, client, _ = served
    app = tui(server, client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("3")
        await wait_for(pilot, app, lambda: "team-a" in text_of(app.screen.query_one("#totals")))
        # The seeded readings are older than the server's 7-day window: none to draw, no error.
        assert "could not load" not in text_of(app.screen.query_one("#windows"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_wrong_key_is_reported_once_as_such(start_nexus: StartNexus) -> None:
    """The feed's 401 is final (no retry loop) and says which setting to fix; the list's own 401s
    add no notifications on top."""
    server = await start_nexus(api_key="right-key")
    async with NexusClient(server.endpoints.api_url, api_key="wrong-key") as client:
        app = tui(server, client)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, app, lambda: app.connection.link is Link.REFUSED)
            status = str(app.screen.query_one(StatusBar).render())
            assert "API key refused: check --key / DASHBOARD_API_KEY" in status

            def feed_running() -> bool:
                return any(w.group == "feed" and not w.is_finished for w in app.workers)

            await wait_for(pilot, app, lambda: not feed_running())  # not retrying
            await pilot.pause(0.3)
            assert app.connection.link is Link.REFUSED
            assert not [n for n in app._notifications if n.severity == "error"]
    async with NexusClient(server.endpoints.api_url, api_key="right-key") as client:
        app = tui(server, client)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, app, lambda: app.connection.is_live)


async def test_the_empty_store_hint_names_the_port_the_proxy_really_listens_on(
    start_nexus: StartNexus,
) -> None:
    """The settings say port 0 (any free port); /health says which one the proxy got."""
    server = await start_nexus()
    async with NexusClient(server.endpoints.api_url) as client:
        app = tui(server, client)
        assert app.proxy_url.endswith(":0")  # the settings' guess
        async with app.run_test(size=(120, 40)) as pilot:
            hint = f"ANTHROPIC_BASE_URL={server.endpoints.proxy_url} claude"
            await wait_for(pilot, app, lambda: hint in text_of(app.screen.query_one("#empty")))
