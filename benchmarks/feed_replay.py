"""Many clients replaying the live feed while the proxy serves: the proxy's latency and memory.

    .venv/bin/python benchmarks/feed_replay.py                        # 5 000 events, 200 clients
    .venv/bin/python benchmarks/feed_replay.py --events 3000 --clients 50 --slow

Seeds a SQLite store with ``--events`` records (one feed event each), starts a real
``nexus serve`` on it in front of the fake upstream, times 300 sequential proxied calls alone,
then again while ``--clients`` subscribers read ``/api/events?after=0`` (``--slow``: each pauses
50 ms per chunk it reads). Prints proxy latency (p50/p99/max), the serve process's peak resident
memory and CPU time, and the events each subscriber got. The subscribers run in this process,
so on a small machine their own work shows in the latency figures too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nexus.aio import TaskSet  # noqa: E402
from tests.factories import make_record  # noqa: E402
from tests.fakes.serve_process import NexusProcess, cpu_s, free_port, rss_mb  # noqa: E402
from tests.fakes.upstream import FakeUpstream  # noqa: E402

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


async def seed(db: Path, events: int) -> None:
    from nexus.store.sqlite import SqliteStore

    store = SqliteStore(db)
    await store.open()
    for _ in range(0, events, 500):
        await store.write_batch([make_record() for _ in range(500)])
    await store.close()


async def timed_calls(url: str, n: int) -> tuple[float, float, float]:
    latencies = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            response = await client.post(url + "/v1/messages", json=BODY)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1], latencies[-1]


async def subscribe(api_url: str, stop: asyncio.Event, slow: bool, counts: list[int]) -> None:
    received = 0
    async with httpx.AsyncClient(timeout=None) as client:
        async with client.stream("GET", api_url + "/api/events", params={"after": "0"}) as feed:
            async for chunk in feed.aiter_bytes():
                received += chunk.count(b"\nid: ")
                if slow:
                    await asyncio.sleep(0.05)
                if stop.is_set():
                    break
    counts.append(received)


async def main(events: int, clients: int, slow: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="nexus-feed-"))
    db = folder / "nexus.db"
    await seed(db, events)
    async with FakeUpstream() as upstream:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "ANTHROPIC_"))}
        env.update(NEXUS_DATA_DIR=str(folder / "data"), COLUMNS="250", PYTHONUNBUFFERED="1")
        args = [
            "--db", f"sqlite:///{db}", "--proxy-port", str(free_port()),
            "--api-port", str(free_port()), "--upstream", upstream.url,
            "--credentials-dir", str(folder / "credentials"),
        ]  # fmt: skip
        nexus = await NexusProcess(args, env, folder).start()
        assert nexus.proc is not None
        pid = nexus.proc.pid
        try:
            await timed_calls(nexus.proxy_url, 50)  # warm-up
            alone = await timed_calls(nexus.proxy_url, 300)
            rss_alone, cpu_before = int(rss_mb(pid)), cpu_s(pid)
            stop, counts, peak = asyncio.Event(), [], [rss_alone]

            async def watch() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], int(rss_mb(pid)))
                    await asyncio.sleep(0.1)

            tasks = TaskSet()
            tasks.spawn(watch(), name="rss")
            for n in range(clients):
                tasks.spawn(subscribe(nexus.api_url, stop, slow, counts), name=f"sub-{n}")
            await asyncio.sleep(0.5)
            loaded = await timed_calls(nexus.proxy_url, 300)
            await asyncio.sleep(2)
            cpu_used = cpu_s(pid) - cpu_before
            stop.set()
            await tasks.wait(timeout=10)
            await tasks.close()
        finally:
            await nexus.kill()
    print(f"{events} events, {clients} subscribers{' (slow)' if slow else ''}")
    print(
        f"proxy alone      p50/p99/max {alone[0]:.1f}/{alone[1]:.1f}/{alone[2]:.1f} ms, {rss_alone} MB"
    )
    print(
        f"while replaying  p50/p99/max {loaded[0]:.1f}/{loaded[1]:.1f}/{loaded[2]:.1f} ms, peak {peak[0]} MB, {cpu_used:.2f} s CPU"
    )
    if counts:
        print(f"events per subscriber: min {min(counts)}, median {statistics.median(counts)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.events, options.clients, options.slow))
