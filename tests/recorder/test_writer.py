"""The writer against a store that fails for a while: nothing is lost, every record is written
exactly once after recovery, in the order the proxy saw them, and the spool is fsync'd meanwhile."""

from __future__ import annotations

import asyncio
import collections
import os
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from nexus.aio import TaskSet
from nexus.errors import StoreUnavailable
from nexus.recorder import spool as spool_module
from nexus.recorder.spool import Spool
from nexus.recorder.tap import Tap
from nexus.recorder.writer import Writer
from tests.factories import make_record

CAPTURE = Path(__file__).parents[1] / "data" / "claude_code" / "tool_loop.json"


class FlakyStore:
    """The Store seam: idempotent by id like the real stores; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.down = False
        self.order: list[str] = []  # ids in the order their rows were created
        self.writes: collections.Counter[str] = collections.Counter()  # successful writes per id
        self.failures = 0
        self.calls = asyncio.Event()  # set after every call, failed or not

    async def write_batch(self, records) -> None:
        try:
            if self.down:
                self.failures += 1
                raise StoreUnavailable("the database is down (test)")
            for record in records:
                if record.id not in self.writes:
                    self.order.append(record.id)
                self.writes[record.id] += 1
        finally:
            self.calls.set()

    async def until(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait for the writer's calls until ``condition`` holds."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.calls.clear()
                await self.calls.wait()


Rig = collections.namedtuple("Rig", "store spool tap writer stop")


@pytest.fixture
async def make_rig(tmp_path):
    """``make_rig(name, max_pending_bytes=…)``: a store double, spool, tap and writer (not started:
    ``start(rig)`` runs it). Teardown stops the writers, then closes the spools."""
    rigs: list[Rig] = []
    tasks = TaskSet()

    def make(name: str = "spool", retry_s: float = 0.01, **tap_options) -> Rig:
        spool = Spool(tmp_path / name, segment_bytes=16 * 1024)
        tap = Tap(spool, **tap_options)
        store = FlakyStore()
        writer = Writer(store, tap, spool, batch_items=8, retry_s=retry_s, max_retry_s=4 * retry_s)
        rig = Rig(store, spool, tap, writer, asyncio.Event())
        rigs.append(rig)
        return rig

    def start(rig: Rig) -> asyncio.Task[None]:
        return tasks.spawn(rig.writer.run(rig.stop), name="writer")

    make.start = start  # type: ignore[attr-defined]
    yield make
    for rig in rigs:
        rig.stop.set()
    await tasks.wait(timeout=5)
    await tasks.close()
    for rig in rigs:
        rig.spool.close()


def kill(spool: Spool) -> None:
    """What kill -9 leaves: no close(), no fsync (flushed bytes are in the page cache); the
    kernel drops the descriptors, and with them the folder's lock."""
    spool._file.close()
    os.close(spool._lock_fd)


def put(tap: Tap, n: int, label: str) -> list[str]:
    ids = []
    for i in range(n):
        body = os.urandom(700).hex().encode()
        exchange = make_record(user_text=f"{label} {i}", request_body=body).exchange
        tap.put_nowait(exchange)
        ids.append(exchange.id)
    return ids


# retry_s=0: the backoff has always run out when new records arrive, so they race the replay.
@pytest.mark.parametrize("retry_s", [0.0, 0.02])
async def test_records_sent_while_the_store_is_down_are_written_once_in_order_after_it_is_back(
    make_rig, monkeypatch, retry_s
):
    rig = make_rig(retry_s=retry_s)
    store, spool, tap, writer = rig.store, rig.spool, rig.tap, rig.writer
    synced: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.path.basename(os.readlink(f"/proc/self/fd/{fd}")), os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", fsync)
    make_rig.start(rig)
    before = put(tap, 10, "healthy")
    await store.until(lambda: len(store.order) == 10)

    store.down = True
    during = put(tap, 30, "outage")  # more than one segment's worth
    await store.until(lambda: not tap and store.failures >= 1)
    during += put(tap, 30, "still down")
    await store.until(lambda: not tap)
    failures = store.failures
    # A whole failed replay after the drain:
    await store.until(lambda: store.failures >= failures + 2)
    assert not writer.healthy and store.order == before

    # Everything the outage left is on disk, each segment fsync'd at its final size.
    files = spool.directory.glob("*.spool")
    on_disk = {p.name: p.stat().st_size for p in files if p.stat().st_size}
    assert on_disk and set(on_disk.items()) <= set(synced), (on_disk, synced)
    frames = [
        ex.id
        for p in sorted(spool.directory.glob("*.spool"))
        for ex in spool_module.decode_all(p.read_bytes())
    ]
    assert [i for i in frames if i not in before] == during

    store.down = False
    after = put(tap, 12, "recovered")
    await store.until(lambda: len(store.order) == 82 and not tap and not spool.replayable())
    assert store.order == before + during + after
    # Records of the outage and after it are written once; a record already stored that shares
    # a segment with them may be offered again, and the store's idempotence keeps it one row.
    assert {store.writes[i] for i in during + after} == {1}
    assert writer.healthy and writer.stats.replayed >= len(during)
    assert sorted(p.name for p in spool.directory.glob("*.spool")) == [
        f"{spool._current.number:012d}.spool"
    ]


async def test_a_previous_runs_spool_is_replayed_before_new_records(make_rig, tmp_path):
    dead = Spool(tmp_path / "spool", segment_bytes=16 * 1024)
    left = put(Tap(dead), 20, "left by a killed process")
    kill(dead)  # nothing committed

    rig = make_rig("spool")
    new = put(rig.tap, 5, "new")
    make_rig.start(rig)
    await rig.store.until(lambda: len(rig.store.order) == 25)
    assert rig.store.order == left + new
    assert set(rig.store.writes.values()) == {1}


async def test_a_full_queue_spills_to_the_spool_and_nothing_is_dropped(make_rig):
    rig = make_rig(max_pending_bytes=8 * 1024)  # room for a few records only
    ids = put(rig.tap, 40, "burst")  # the writer is not running yet: the queue overflows
    assert rig.tap.overflowed > 0 and len(rig.tap) < 40
    make_rig.start(rig)
    await rig.store.until(lambda: len(rig.store.order) == 40 and not rig.spool.replayable())
    assert rig.store.order == ids
    assert set(rig.store.writes.values()) == {1}


async def test_a_failing_after_write_hook_does_not_lose_or_repeat_records(make_rig):
    calls = []

    async def broken_linker(records) -> None:
        calls.append(len(records))
        raise RuntimeError("linker bug")

    rig = make_rig()
    rig.writer.on_written = broken_linker
    make_rig.start(rig)
    ids = put(rig.tap, 20, "hooked")
    await rig.store.until(lambda: len(rig.store.order) == 20)
    assert rig.store.order == ids and set(rig.store.writes.values()) == {1}
    assert sum(calls) == 20


async def test_stop_drains_the_queue_before_the_writer_returns(make_rig):
    rig = make_rig()
    task = make_rig.start(rig)
    ids = put(rig.tap, 30, "at shutdown")
    rig.stop.set()
    await asyncio.wait_for(task, 10)
    assert rig.store.order == ids


async def test_writing_batches_of_big_bodies_leaves_the_event_loop_free(store, tmp_path):
    """The proxy shares the loop with the writer: cutting and compressing bodies must not stall
    it. A batch of 128 Claude Code-sized bodies (the real 24-tool list, a long history) costs
    some 300 ms of CPU; done on the loop, every proxied call would wait that long."""
    capture = orjson.loads(CAPTURE.read_bytes())
    tools = orjson.loads([e for e in capture["exchanges"] if e["method"] == "POST"][-1]["body"])[
        "tools"
    ]
    rnd = random.Random(3)
    history = [
        {"role": "user" if i % 2 else "assistant",
         "content": [{"type": "text", "text": f"{rnd.getrandbits(64):x} " * 120}]}
        for i in range(90)
    ]  # fmt: skip
    exchanges = [
        make_record(history=history[: 30 + i % 60], user_text=str(i), tools=tools).exchange
        for i in range(128)
    ]
    spool = Spool(tmp_path / "big")
    tap = Tap(spool)
    for exchange in exchanges:
        tap.put_nowait(exchange)
    writer = Writer(store, tap, spool, batch_items=128)
    stop = asyncio.Event()
    stop.set()  # run() returns once the queue is empty
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = asyncio.Event()

    async def measure_lag() -> None:
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - before)

    async with asyncio.TaskGroup() as group:
        group.create_task(measure_lag())
        await writer.run(stop)
        done.set()
    spool.close()
    assert writer.stats.written == 128
    assert max(lags) < 0.1, f"the event loop stalled for {max(lags) * 1000:.0f} ms"
