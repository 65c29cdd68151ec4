"""The writer: reads the spool back in batches, derives records, writes them to the store, then
tells the linker and the live feed. Nothing is acknowledged to the spool before the store has it:
on ``StoreUnavailable`` the writer fsyncs the spool, waits (with backoff) and retries the same
batch, so records come out once and in order after an outage.

It runs in the recorder process (``python -m nexus.recorder``), never in the proxy's: deriving, cutting
bodies and linking are CPU work that would otherwise take the GIL from the proxy's event loop.
Spools left by earlier runs (``adopted``) are written first, then the proxy's own folder is followed
until ``stop`` is set and everything appended before it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nexus.errors import StoreUnavailable
from nexus.recorder.crash_guard import GIVE_UP_AT, SINGLE_FROM, CrashGuard, RecorderCrashed
from nexus.recorder.dead_letters import Poison, dead_letter, derive_all, store_one_by_one
from nexus.recorder.follow import Batch, SpoolFollower
from nexus.recorder.orphans import Adopted
from nexus.recorder.spool import Position, sync_folder
from nexus.records import RequestRecord
from nexus.store.base import Store
from nexus.wire import ValueMemory

if TYPE_CHECKING:
    from nexus.usage.cost import CostFunction

log = logging.getLogger("nexus.writer")
OnWritten = Callable[[Sequence[RequestRecord]], Awaitable[None]]
OnProgress = Callable[["WriterStats"], None]


@dataclass
class WriterStats:
    position: Position = Position(0, 0)  # of the proxy's own folder: stored up to here
    written: int = 0
    batches: int = 0
    failures: int = 0
    replayed: int = 0  # records from adopted folders
    dead_letters: int = 0  # records set aside: they could not be derived or stored
    adopted: int = 0  # adopted folders not yet written
    healthy: bool = True
    idle: bool = False  # caught up with the proxy when reported


class Writer:
    def __init__(
        self,
        store: Store,
        follower: SpoolFollower,
        *,
        cost: CostFunction | None = None,
        on_written: OnWritten | None = None,
        on_progress: OnProgress | None = None,
        batch_items: int = 64,
        batch_bytes: int = 16 * 1024 * 1024,
        retry_s: float = 1.0,
        max_retry_s: float = 15.0,
        poll_s: float = 0.5,
        linger_s: float = 0.1,
        adopted: Sequence[Adopted] = (),
        wakeup: asyncio.Event | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.follower = follower
        self.cost = cost
        self.on_written = on_written
        self.on_progress = on_progress
        self.batch_items = batch_items
        self.batch_bytes = batch_bytes
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.adopted = list(adopted)
        self.stats = WriterStats(adopted=len(self.adopted))
        self.wakeup = wakeup or asyncio.Event()  # set when the proxy appended something
        self.spill_dir = spill_dir  # dead letters the store refuses too go there, as files
        self._guards: dict[Path, CrashGuard] = {}
        self._values = ValueMemory()  # tools and system lists every call repeats: parsed once
        self._backoff = retry_s
        self._last_batch = (-linger_s, 0)  # (loop time its read began, records in it)

    async def run(self, stop: asyncio.Event) -> None:
        """Write until ``stop`` is set and every frame appended before it is stored. If the store
        stays down after ``stop``, return anyway: the spool keeps the rest for the next run."""
        while self.adopted:
            adopted = self.adopted[0]
            if not await self._drain(adopted.follower, stop, replay=True):
                return
            self._guards.pop(adopted.follower.directory).close()
            adopted.remove()
            self.adopted.pop(0)
            self.stats.adopted = len(self.adopted)
        stopping = False
        while True:
            if stop.is_set() and not stopping:
                stopping = True
                self.follower.finish()
            if not await self._drain(self.follower, stop, replay=False):
                return
            if stopping:
                return
            self.stats.idle = True
            self.stats.position = self.follower.position
            self._report()
            self.wakeup.clear()
            await _first(self.wakeup.wait(), stop.wait(), timeout=self.poll_s)
            self.stats.idle = False

    async def _drain(self, follower: SpoolFollower, stop: asyncio.Event, *, replay: bool) -> bool:
        """Store every whole frame there is now; False when the store is down and we must stop."""
        guard = self._guards.setdefault(follower.directory, CrashGuard(follower.directory))
        while True:
            if not replay:
                await self._linger(stop)
            single = guard.in_danger(follower.position)
            batch = follower.read(1 if single else self.batch_items, self.batch_bytes)
            if not batch.exchanges:
                return True
            self._last_batch = (asyncio.get_running_loop().time(), len(batch.exchanges))
            start = follower.position  # where the batch starts (read does not move past it)
            attempt = guard.begin(start, batch.end)
            if not single and attempt >= SINGLE_FROM:  # it killed processes: find the frame
                guard.enter_danger(start, batch.end)
                batch = follower.read(1, self.batch_bytes)
                single, attempt = True, 1
            store = self._set_aside if single and attempt >= GIVE_UP_AT else self._store
            while not await store(batch):
                sync_folder(follower.directory)
                if stop.is_set():
                    guard.clear()
                    return False
                await _first(stop.wait(), timeout=self._backoff)
                self._backoff = min(self._backoff * 2, self.max_retry_s)
            follower.advance(batch)
            if replay:
                self.stats.replayed += len(batch.exchanges)
            else:
                self.stats.position = batch.end
                self._report()

    async def _linger(self, stop: asyncio.Event) -> None:
        """Under steady traffic, let the next batch gather for ``linger_s`` after the last one
        began. A batch costs a few ms of fixed work whatever its size (transactions, the linker's
        lookups, thread hops), so writing each record of a steady 50 req/s alone costs several
        times what batches of 100 ms cost (benchmarks/recorder_cost.py --rate). A record after a
        quiet spell is not held, and neither is a backlog (the last batch was full)."""
        began, size = self._last_batch
        wait = began + self.linger_s - asyncio.get_running_loop().time()
        if wait > 0 and size < self.batch_items and not stop.is_set():
            await _first(stop.wait(), timeout=wait)

    async def _set_aside(self, batch: Batch) -> bool:
        """Dead-letter a frame the recorder process died on, again and again, without deriving it
        (that is what killed it); False when the store is unavailable."""
        crashed = RecorderCrashed("the recorder process died on it, alone and in its batch")
        poison = [
            Poison(ex, "crash", crashed, SINGLE_FROM + GIVE_UP_AT - 2) for ex in batch.exchanges
        ]
        try:
            await dead_letter(self.store, poison, self.spill_dir)  # type: ignore[arg-type]
        except StoreUnavailable:
            return False
        self.stats.dead_letters += len(poison)
        return True

    async def _store(self, batch: Batch) -> bool:
        """Store a batch; False when the store is unavailable (the batch is tried again later).
        A record that cannot be derived or stored is set aside as a dead letter: never retried
        forever, never in the way of the others."""
        records, poison = derive_all(batch.exchanges, self.cost, self._values)
        try:
            try:
                await self.store.write_batch(records)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("a batch of %d records failed; storing them one by one", len(records))
                records, failed = await store_one_by_one(self.store, records)
                poison += failed
            if poison:
                await dead_letter(self.store, poison, self.spill_dir)  # type: ignore[arg-type]
        except StoreUnavailable as exc:
            self.stats.failures += 1
            if self.stats.healthy:
                log.error("store unavailable, records wait in the spool until it is back: %s", exc)
            self.stats.healthy = False
            self._report()
            return False
        self.stats.dead_letters += len(poison)
        if not self.stats.healthy:
            log.warning("store is back; writing what waited in the spool")
        self.stats.healthy = True
        self._backoff = self.retry_s
        self.stats.written += len(records)
        self.stats.batches += 1
        if self.on_written is not None:
            try:
                await self.on_written(records)
            except Exception:  # the records are safe; a linker bug must not stop recording
                log.exception("after-write hook failed for %d records", len(records))
        return True

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)


async def _first(*aws: Awaitable[object], timeout: float) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
