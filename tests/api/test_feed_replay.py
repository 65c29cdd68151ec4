"""Through a real ``nexus serve``: many clients replaying the live feed cost a bounded amount of
work and memory, and the proxy keeps answering. The mechanism is asserted (replay capped at
``REPLAY_LIMIT`` events, framed once for all subscribers), with generous bounds on CPU and memory
so a loaded machine does not make it flaky."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from nexus.api.routes.events import REPLAY_LIMIT
from tests.factories import make_record
from tests.fakes.serve_process import cpu_s, rss_mb

SEEDED = 3000
SUBSCRIBERS = 50
BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


async def replay(api_url: str, want: int) -> tuple[dict, int]:
    """Read the feed from the start until ``want`` events came; the connected frame's data and
    the number of events."""
    connected: dict = {}
    count = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("GET", api_url + "/api/events", params={"after": "0"}) as feed:
            kind = ""
            async for line in feed.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "connected":
                    connected = orjson.loads(line[6:])
                elif line.startswith("data: "):
                    count += 1
                    if count >= want:
                        break
    return connected, count


async def test_many_subscribers_replaying_the_feed_cost_bounded_work_and_memory(
    nexus_process, tmp_path
):
    from nexus.store.sqlite import SqliteStore

    db = tmp_path / "nexus.db"
    store = SqliteStore(db)
    await store.open()
    for _ in range(SEEDED // 500):
        await store.write_batch([make_record() for _ in range(500)])
    last = await store.last_event_seq()
    await store.close()
    nexus = await nexus_process(f"sqlite:///{db}")
    pid = nexus.proc.pid
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):  # warm up the proxy before measuring
            assert (await client.post(nexus.proxy_url + "/v1/messages", json=BODY)).is_success
    await asyncio.sleep(1)
    rss_before, cpu_before = rss_mb(pid), cpu_s(pid)
    replays = asyncio.gather(*(replay(nexus.api_url, REPLAY_LIMIT) for _ in range(SUBSCRIBERS)))
    async with httpx.AsyncClient(timeout=30) as client:
        while not replays.done():  # the proxy keeps answering meanwhile
            assert (await client.post(nexus.proxy_url + "/v1/messages", json=BODY)).is_success
    results = await replays
    cpu_used, rss_grown = cpu_s(pid) - cpu_before, rss_mb(pid) - rss_before
    for connected, count in results:
        assert count >= REPLAY_LIMIT
        assert connected["skipped"] >= last - REPLAY_LIMIT > 0  # the replay started near the end
    # Unbounded, each subscriber read and framed every event: ~7 s of CPU and ~95 MB here.
    assert cpu_used < 3.0, cpu_used
    assert rss_grown < 60, rss_grown
