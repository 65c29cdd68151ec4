"""kill -9 of ``nexus serve`` in the middle of a burst: after a restart, every request that got a
complete answer before the kill is in the store, and the SQLite file is intact. When only the
proxy process is killed, its recorder stores what the spool holds on its own, then exits."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import urllib.parse

import httpx
import pytest

pytestmark = pytest.mark.slow

BODY = {"model": "claude-opus-4-8", "max_tokens": 100}


def integrity(path) -> str:
    with sqlite3.connect(path) as conn:  # opening it recovers the WAL, as a restart would
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def stored_ids(path) -> set[str]:
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM requests")}
    finally:
        conn.close()


class Burst:
    """``total`` calls, ``concurrency`` at a time; remembers the ids of complete 200 answers."""

    def __init__(self, url: str, total: int, concurrency: int) -> None:
        self.url, self.total, self.concurrency = url, total, concurrency
        self.acked: list[str] = []
        self.broken = 0
        self.changed = asyncio.Condition()
        self._next = 0

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=20, limits=limits) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while self._next < self.total:
            n = self._next
            self._next += 1
            # ~20 KB of history, half of the calls streamed: the writer has real work to do.
            body = {
                **BODY,
                "stream": n % 2 == 0,
                "messages": [{"role": "user", "content": f"call {n} " + "context " * 2500}],
            }
            try:
                response = await client.post(self.url + "/v1/messages", json=body)
            except httpx.TransportError:  # the process died under this call
                self.broken += 1
                continue
            async with self.changed:
                if response.status_code == 200:  # the body was read whole: acknowledged
                    self.acked.append(response.headers["x-nexus-request-id"])
                self.changed.notify_all()


async def test_nothing_acknowledged_is_lost_when_nexus_serve_is_killed_mid_burst(
    nexus_process, tmp_path
):
    db = tmp_path / "nexus.db"
    url = f"sqlite:///{db}"
    first = await nexus_process(url)
    port = urllib.parse.urlsplit(first.proxy_url).port
    burst = Burst(first.proxy_url, total=400, concurrency=24)

    def writer_is_behind() -> bool:
        # Kill while some answered calls are only in the spool, so the restart must replay them.
        return len(burst.acked) >= 80 and len(set(burst.acked) - stored_ids(db)) >= 4

    async def kill_when_behind() -> None:
        # The recorder keeps up with a burst like this one: paused (as a busy machine would), it
        # leaves answered calls in the spool only, and the kill finds them there.
        async with burst.changed:
            await burst.changed.wait_for(lambda: len(burst.acked) >= 40)
        recorder = first.recorder_pid()
        assert recorder is not None
        os.kill(recorder, signal.SIGSTOP)
        async with burst.changed:
            await burst.changed.wait_for(lambda: writer_is_behind() or len(burst.acked) >= 300)
        await first.kill()  # the stopped recorder dies with it

    async with asyncio.timeout(60), asyncio.TaskGroup() as group:
        group.create_task(burst.run())
        group.create_task(kill_when_behind())
    acked = set(burst.acked)
    assert burst.broken > 0, "the kill must land in the middle of the burst"
    assert integrity(db) == "ok"
    only_in_spool = acked - stored_ids(db)
    assert only_in_spool, "the kill should find answered calls the writer had not stored yet"

    second = await nexus_process(url, proxy_port=port)  # same port: its own spool folder
    async with asyncio.timeout(30):
        while missing := acked - stored_ids(db):
            await asyncio.sleep(0.05)  # another process replays; nothing here to await but its rows
    assert not missing
    assert await second.terminate() == 0, "".join(second.log)
    assert integrity(db) == "ok"
    assert not list((tmp_path / "data" / "spool").rglob("*.spool")), "the spool was not emptied"


async def test_a_recorder_whose_proxy_was_killed_stores_the_spool_then_exits(
    nexus_process, tmp_path
):
    db = tmp_path / "nexus.db"
    proxy = await nexus_process(f"sqlite:///{db}")
    async with asyncio.timeout(10):  # spawned beside the servers, right after the banner
        while (recorder := proxy.recorder_pid()) is None:
            await asyncio.sleep(0.05)
    burst = Burst(proxy.proxy_url, total=200, concurrency=16)

    async def kill_mid_burst() -> None:
        async with burst.changed:
            await burst.changed.wait_for(lambda: len(burst.acked) >= 60)
        await proxy.kill(recorder_too=False)

    async with asyncio.timeout(60), asyncio.TaskGroup() as group:
        group.create_task(burst.run())
        group.create_task(kill_mid_burst())
    acked = set(burst.acked)
    async with asyncio.timeout(30):
        while _alive(recorder):
            await asyncio.sleep(0.05)
    assert acked <= stored_ids(db)
    assert not list((tmp_path / "data" / "spool").rglob("*.spool")), "the spool was not emptied"
    assert integrity(db) == "ok"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped: its parent is gone, init reaps it soon) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
