"""The writer against a store that fails for a while: nothing is lost, every record is written
exactly once after recovery, in the order the proxy saw them, and the spool is fsync'd meanwhile.
Also: a previous run's spool comes first, adopted folders before the proxy's own, stop drains."""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Callable

import pytest

from nexus.aio import TaskSet
from nexus.errors import StoreUnavailable
from nexus.recorder import spool as spool_module
from nexus.recorder.follow import SpoolFollower
from nexus.recorder.orphans import adopt_orphans
from nexus.recorder.spool import Spool
from nexus.recorder.tap import Tap
from nexus.recorder.writer import Writer
from tests.factories import kill_spool, make_record


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
    """``make_rig(name, …)``: a store double, a spool with its tap, and a writer following that
    folder (not started: ``start(rig)`` runs it). Teardown stops the writers, closes the spools."""
    rigs: list[Rig] = []
    tasks = TaskSet()

    def make(name: str = "spool", retry_s: float = 0.01, **writer_options) -> Rig:
        spool = Spool(tmp_path / name, segment_bytes=16 * 1024)
        store = FlakyStore()
        writer_options.setdefault("adopted", adopt_orphans(tmp_path, spool.directory, "db1"))
        writer = Writer(store, SpoolFollower(spool.directory), batch_items=8, retry_s=retry_s,
                        max_retry_s=4 * retry_s, poll_s=0.01, **writer_options)  # fmt: skip
        rig = Rig(store, spool, Tap(spool, writer.wakeup.set), writer, asyncio.Event())
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


def put(tap: Tap, n: int, label: str) -> list[str]:
    ids = []
    for i in range(n):
        body = os.urandom(700).hex().encode()
        exchange = make_record(user_text=f"{label} {i}", request_body=body).exchange
        tap.put_nowait(exchange)
        ids.append(exchange.id)
    return ids


def segment_files(directory):
    return sorted(p.name for p in directory.glob("*.spool"))


async def test_records_sent_while_the_store_is_down_are_written_once_in_order_after_it_is_back(
    make_rig, monkeypatch
):
    rig = make_rig()
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
    during += put(tap, 30, "still down")
    failures = store.failures
    await store.until(lambda: store.failures >= failures + 3)  # retried, with backoff
    await asyncio.sleep(0.05)
    assert not writer.stats.healthy and store.order == before

    # Everything the outage left is on disk, each segment fsync'd at its final size.
    on_disk = {p.name: p.stat().st_size for p in spool.directory.glob("*.spool")}
    assert len(on_disk) > 1 and set(on_disk.items()) <= set(synced), (on_disk, synced)
    frames = [
        ex.id
        for p in sorted(spool.directory.glob("*.spool"))
        for ex in spool_module.decode_all(p.read_bytes())
    ]
    assert [i for i in frames if i not in before] == during

    store.down = False
    after = put(tap, 12, "recovered")
    await store.until(lambda: len(store.order) == 82)
    assert store.order == before + during + after
    # Written once: nothing is acknowledged to the spool before the store has it.
    assert set(store.writes.values()) == {1}
    assert writer.stats.healthy and writer.stats.failures >= 3
    # Finished segments are gone; the one the proxy appends to stays.
    await asyncio.sleep(0.05)
    assert segment_files(spool.directory) == [f"{spool.position().segment:012d}.spool"]


async def test_a_previous_runs_spool_is_written_before_new_records(make_rig, tmp_path):
    dead = Spool(tmp_path / "spool", segment_bytes=16 * 1024)
    left = put(Tap(dead), 20, "left by a killed process")
    kill_spool(dead)  # nothing stored

    rig = make_rig("spool")  # the next run on the same port
    new = put(rig.tap, 5, "new")
    make_rig.start(rig)
    await rig.store.until(lambda: len(rig.store.order) == 25)
    assert rig.store.order == left + new
    assert set(rig.store.writes.values()) == {1}


async def test_folders_left_on_other_ports_are_adopted_written_first_and_removed(
    make_rig, tmp_path
):
    busy = Spool(tmp_path / "3002-db1")  # a proxy that is running: not an orphan
    left = {}
    for port in ("3004-db1", "3006-db1", "3008-db2", "3010"):
        dead = Spool(tmp_path / port)
        left[port] = put(Tap(dead), 3, f"left on {port}")
        kill_spool(dead)
    rig = make_rig("3000-db1")
    # Only folders of its own database: another database's (or an older Nexus's, with no
    # database in its name) would put records where they do not belong.
    assert [a.follower.directory.name for a in rig.writer.adopted] == ["3004-db1", "3006-db1"]
    new = put(rig.tap, 2, "new")
    make_rig.start(rig)
    await rig.store.until(lambda: len(rig.store.order) == 8)
    assert rig.store.order == left["3004-db1"] + left["3006-db1"] + new
    assert rig.writer.stats.adopted == 0 and rig.writer.stats.replayed == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "3000-db1",
        "3002-db1",
        "3008-db2",
        "3010",
    ]
    busy.close()


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


async def test_stop_stores_everything_appended_before_it_and_empties_the_folder(make_rig):
    rig = make_rig()
    task = make_rig.start(rig)
    ids = put(rig.tap, 30, "at shutdown")
    rig.spool.close()  # the proxy stopped appending
    rig.stop.set()
    await asyncio.wait_for(task, 10)
    assert rig.store.order == ids
    assert segment_files(rig.spool.directory) == []


async def test_stop_while_the_store_is_down_leaves_the_records_in_the_spool(make_rig):
    rig = make_rig()
    rig.store.down = True
    task = make_rig.start(rig)
    ids = put(rig.tap, 5, "unstored")
    await rig.store.until(lambda: rig.store.failures >= 1)
    rig.stop.set()
    await asyncio.wait_for(task, 10)
    left = [ex.id for p in sorted(rig.spool.directory.glob("*.spool"))
            for ex in spool_module.decode_all(p.read_bytes())]  # fmt: skip
    assert left == ids


async def test_an_idle_writer_wakes_on_the_taps_signal_not_on_its_poll(tmp_path):
    spool = Spool(tmp_path / "spool")
    store = FlakyStore()
    writer = Writer(store, SpoolFollower(spool.directory), poll_s=60.0)
    tap = Tap(spool, writer.wakeup.set)
    stop = asyncio.Event()
    task = asyncio.ensure_future(writer.run(stop))
    await asyncio.sleep(0.05)  # it found nothing and sleeps for a minute
    ids = put(tap, 1, "wake")
    await store.until(lambda: store.order == ids, timeout_s=2.0)
    stop.set()
    await asyncio.wait_for(task, 5)
    spool.close()


def test_a_spool_that_cannot_be_written_loses_the_record_not_the_call_and_logs_once(
    tmp_path, caplog
):
    spool = Spool(tmp_path / "spool")
    tap = Tap(spool)
    spool.close()  # every append now fails, as on a full disk
    for n in range(5):
        tap.put_nowait(make_record(user_text=str(n)).exchange)  # never raises
    assert tap.lost == 5
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "NOT recorded" in errors[0].getMessage()


class ProcessDeath(BaseException):
    """What the writer's process sees of a segfault or the OOM killer: nothing it can catch."""


class DeadlyStore(FlakyStore):
    """Dies (like the process would) on every batch that holds the deadly record."""

    def __init__(self, deadly: str) -> None:
        super().__init__()
        self.deadly = deadly
        self.letters: dict[str, tuple[str, bytes]] = {}

    async def write_batch(self, records) -> None:
        if any(r.id == self.deadly for r in records):
            raise ProcessDeath
        await super().write_batch(records)

    async def add_dead_letter(self, letter, frame) -> None:
        self.letters[letter.id] = (letter.stage, frame)


async def test_a_record_that_kills_the_recorder_process_is_set_aside_after_a_few_restarts(
    tmp_path,
):
    """Each Writer here is one recorder process: it dies on the batch holding the deadly record,
    and the next one starts from the same frame. The 3rd reads one frame at a time, the 4th sets
    the deadly frame aside without deriving it, and every other record is stored."""
    spool = Spool(tmp_path / "3000-db1")
    tap = Tap(spool)
    before = put(tap, 3, "before")
    [deadly] = put(tap, 1, "deadly")
    after = put(tap, 3, "after")
    store = DeadlyStore(deadly)
    processes = 0
    while not store.letters:
        processes += 1
        assert processes <= 6, "the deadly record is never set aside"
        writer = Writer(store, SpoolFollower(spool.directory), poll_s=0.01)
        stop = asyncio.Event()
        stop.set()  # store what is there, then return
        try:
            await writer.run(stop)
        except ProcessDeath:
            continue
    assert processes == 4
    assert store.letters[deadly][0] == "crash"
    assert store.order == before + after  # each once (a restart rereads: idempotent writes)
    spool.close()


async def test_steady_traffic_gathers_into_batches_and_a_lone_record_is_not_held(make_rig):
    """A batch costs a few ms of fixed work whatever its size: under steady traffic the writer
    lets the next batch gather for ``linger_s``, but a record after a quiet spell goes at once."""
    rig = make_rig(linger_s=1.0)
    sizes: list[int] = []
    write = rig.store.write_batch

    async def sized(records) -> None:
        sizes.append(len(records))
        await write(records)

    rig.store.write_batch = sized
    make_rig.start(rig)
    loop = asyncio.get_running_loop()
    started = loop.time()
    put(rig.tap, 1, "first")
    await rig.store.until(lambda: len(rig.store.order) == 1)
    assert loop.time() - started < 0.9  # not held for linger_s
    for i in range(3):
        put(rig.tap, 1, f"steady {i}")
        await asyncio.sleep(0.02)
    await rig.store.until(lambda: len(rig.store.order) == 4)
    assert sizes == [1, 3]
    await asyncio.sleep(1.1)  # quiet
    started = loop.time()
    put(rig.tap, 1, "after a pause")
    await rig.store.until(lambda: len(rig.store.order) == 5)
    assert loop.time() - started < 0.9
    assert sizes == [1, 3, 1]
