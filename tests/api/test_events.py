"""``GET /api/events``: every request, link and analysis event once, in order, across reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from nexus.client import NexusClient
from nexus.events import EventBus, listen_for_events
from nexus.records import Link, LiveEvent, TrafficClass
from tests.factories import make_record
from tests.fakes.api_server import Api, ApiFactory, LiveServer

Serve = Callable[[Api], Awaitable[LiveServer]]
WAIT_S = 10.0  # generous upper bound; the tests await events, they never sleep for them


async def take(events: AsyncIterator[LiveEvent], n: int) -> list[LiveEvent]:
    got: list[LiveEvent] = []

    async def collect() -> None:
        async for event in events:
            got.append(event)
            if len(got) == n:
                return

    await asyncio.wait_for(collect(), WAIT_S)
    return got


async def test_feed_delivers_each_record_exactly_once_across_a_reconnect(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    first = [make_record() for _ in range(3)]
    second = [make_record() for _ in range(4)]
    async with NexusClient(server.url) as client:
        feed = client.events(after=0)
        await api.write(first)
        got = await take(feed, 2)
        await feed.aclose()  # the client goes away mid-stream
        await api.write(second)  # written while nobody listens
        resumed = client.events(after=got[-1].seq)
        got += await take(resumed, 5)
        await resumed.aclose()
    assert [e.ref_id for e in got] == [r.id for r in first + second]
    assert [e.seq for e in got] == sorted({e.seq for e in got})
    assert all(e.kind == "request" and e.summary is not None for e in got)
    assert got[0].summary is not None and got[0].summary.user_preview == "fix the failing test"


async def test_last_event_id_header_resumes_exactly(make_api: ApiFactory, serve: Serve) -> None:
    api = make_api()
    server = await serve(api)
    records = [make_record() for _ in range(5)]
    await api.write(records)
    events = await api.store.events_after(0)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        async with http.stream(
            "GET", "/api/events", headers={"Last-Event-ID": str(events[1].seq)}
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            ids = []
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                if len(ids) == 4:  # the connected frame, then events 3..5
                    break
    assert ids == [events[1].seq] + [e.seq for e in events[2:]]


async def test_without_a_resume_point_the_feed_starts_now(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    await api.write([make_record()])
    async with NexusClient(server.url) as client:
        feed = client.events(include_status=True)
        connected = await take(feed, 1)
        assert connected[0].kind == "connected"
        new = make_record()
        await api.write([new])
        assert [e.ref_id for e in await take(feed, 1)] == [new.id]
        await feed.aclose()


async def test_bus_wakes_the_feed_long_before_the_poll_interval(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api(poll_interval_s=60.0)
    server = await serve(api)
    async with NexusClient(server.url) as client:
        feed = client.events(after=0)
        record = make_record()
        await api.write([record])
        assert [e.ref_id for e in await take(feed, 1)] == [record.id]  # WAIT_S << 60 s
        await feed.aclose()


async def test_a_lost_wake_up_costs_latency_not_events(make_api: ApiFactory, serve: Serve) -> None:
    api = make_api(poll_interval_s=0.2, wire_bus=False)  # nobody notifies: only polling
    server = await serve(api)
    async with NexusClient(server.url) as client:
        feed = client.events(after=0)
        records = [make_record() for _ in range(3)]
        await api.write(records)
        assert [e.ref_id for e in await take(feed, 3)] == [r.id for r in records]
        await feed.aclose()


async def test_link_and_analysis_events_follow_request_events(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    record = make_record()
    async with NexusClient(server.url) as client:
        feed = client.events(after=0)
        await api.write([record])
        await api.store.write_links([Link(record.id, TrafficClass.TURN, conversation_id="c-1")])
        got = await take(feed, 2)
        await feed.aclose()
    assert [e.kind for e in got] == ["request", "link"]
    assert got[1].summary is not None and got[1].summary.conversation_id == "c-1"
    assert got[1].summary.traffic_class is TrafficClass.TURN
    assert got[1].at_ms > 0


async def test_idle_feed_sends_heartbeat_comments(make_api: ApiFactory, serve: Serve) -> None:
    api = make_api(heartbeat_s=0.2)
    server = await serve(api)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        async with http.stream("GET", "/api/events") as response:
            async for line in response.aiter_lines():
                if line == ": keep-alive":
                    break


async def test_client_reconnects_when_the_server_restarts(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    before, after = make_record(), make_record()
    async with NexusClient(server.url) as client:
        feed = client.events(after=0, include_status=True, retry_s=0.05)
        await api.write([before])
        got = await take(feed, 2)  # connected, request
        api.bus.close()  # shutdown ends live streams; the server goes away
        await server.stop()
        api.bus.__init__()  # type: ignore[misc]  # a fresh bus for the restarted server
        await api.write([after])
        await server.start()
        rest: list[LiveEvent] = []

        async def until_after() -> None:
            async for event in feed:
                rest.append(event)
                if event.ref_id == after.id:
                    return

        await asyncio.wait_for(until_after(), WAIT_S)
        await feed.aclose()
    requests = [e.ref_id for e in got + rest if e.kind == "request"]
    assert requests == [before.id, after.id]
    kinds = [e.kind for e in rest]
    assert kinds[0] == "disconnected" and kinds[-2:] == ["connected", "request"]


async def test_the_feed_ends_when_the_server_shuts_down(make_api: ApiFactory, serve: Serve) -> None:
    api = make_api()
    server = await serve(api)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        async with http.stream("GET", "/api/events") as response:
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            api.bus.close()
            rest = [line async for line in lines]
    assert "event: connected" in rest and "event: request" not in rest  # it ended, empty
    assert api.bus.subscriber_count == 0


@pytest.mark.postgres
async def test_postgres_notify_reaches_another_process_feed(
    make_api: ApiFactory, serve: Serve, pg_url: str
) -> None:
    """A second store on the same database stands in for a second ``nexus serve``."""
    api = make_api(poll_interval_s=60.0, wire_bus=False)
    if api.store.dialect != "postgres":
        pytest.skip("LISTEN/NOTIFY is Postgres only")
    from nexus.store.postgres import PostgresStore

    other = PostgresStore(pg_url, schema=api.store.schema)
    await other.open()
    listener = asyncio.get_running_loop().create_task(listen_for_events(api.store, api.bus))
    try:
        server = await serve(api)
        async with NexusClient(server.url) as client:
            feed = client.events(after=0)
            record = make_record()
            await other.write_batch([record])
            assert [e.ref_id for e in await take(feed, 1)] == [record.id]
            await feed.aclose()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await other.close()


@pytest.mark.postgres
async def test_postgres_event_writers_commit_in_seq_order(store: Any, pg_url: str) -> None:
    """Two transactions adding events: the second waits for the first to commit, so a reader can
    never see seq N+1 while N is still invisible."""
    if store.dialect != "postgres":
        pytest.skip("Postgres only")
    import asyncpg

    first = await asyncpg.connect(pg_url, server_settings={"search_path": store.schema})
    second = await asyncpg.connect(pg_url, server_settings={"search_path": store.schema})
    try:
        tx = first.transaction()
        await tx.start()
        await first.execute("INSERT INTO events (kind, ref_id, at_ms) VALUES ('link', 'a', 1)")
        blocked = asyncio.get_running_loop().create_task(
            second.execute("INSERT INTO events (kind, ref_id, at_ms) VALUES ('link', 'b', 2)")
        )
        done, _ = await asyncio.wait({blocked}, timeout=0.3)
        assert not done, "the second writer took a seq while the first was uncommitted"
        await tx.commit()
        await asyncio.wait_for(blocked, WAIT_S)
        rows = await second.fetch("SELECT seq, ref_id FROM events ORDER BY seq")
        assert [r["ref_id"] for r in rows] == ["a", "b"]
    finally:
        await first.close()
        await second.close()


def test_bus_wakes_every_subscriber_and_forgets_closed_ones() -> None:
    async def run() -> None:
        bus = EventBus()
        a, b = bus.subscribe(), bus.subscribe()
        bus.notify()
        assert await a.wait(0) is True
        assert await b.wait(1) is True
        assert await a.wait(0.01) is False  # woken once per notify
        a.close()
        b.close()
        assert bus.subscriber_count == 0

    asyncio.run(run())


@pytest.fixture
def serve(serve_api: Serve) -> Serve:
    return serve_api


async def test_a_client_that_goes_away_releases_its_subscription(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        async with http.stream("GET", "/api/events") as response:
            assert (await anext(response.aiter_lines())).startswith("retry:")
            assert api.bus.subscriber_count == 1
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while api.bus.subscriber_count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)  # the server notices the disconnect on its own schedule
    assert api.bus.subscriber_count == 0


async def test_a_resume_point_from_another_database_starts_at_this_ones_end(
    make_api: ApiFactory, serve: Serve
) -> None:
    api = make_api()
    server = await serve(api)
    await api.write([make_record()])
    async with NexusClient(server.url) as client:
        feed = client.events(after=10_000, include_status=True)
        connected = await take(feed, 1)
        assert connected[0].seq == await api.store.last_event_seq()
        new = make_record()
        await api.write([new])
        assert [e.ref_id for e in await take(feed, 1)] == [new.id]
        await feed.aclose()
