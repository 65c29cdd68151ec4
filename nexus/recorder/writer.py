"""The writer: drains the tap in batches, derives records, writes them to the store, then tells the
linker and the live feed. On ``StoreUnavailable`` it leaves the records in the spool (fsync'd) and
replays them, in order, once the store answers again — and at start-up for what a previous run left.

Deriving and cutting bodies is CPU work, so it runs in a thread: the event loop that serves the
proxy gets the GIL back every switch interval instead of waiting for a whole batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nexus.errors import StoreUnavailable
from nexus.recorder.derive import CostFn, derive
from nexus.recorder.spool import Spool, remove_if_empty
from nexus.recorder.tap import Tap
from nexus.records import Exchange, RequestRecord
from nexus.store.base import Store

log = logging.getLogger("nexus.writer")
OnWritten = Callable[[Sequence[RequestRecord]], Awaitable[None]]


@dataclass
class WriterStats:
    written: int = 0
    batches: int = 0
    failures: int = 0
    replayed: int = 0


class Writer:
    def __init__(
        self,
        store: Store,
        tap: Tap,
        spool: Spool,
        *,
        cost: CostFn | None = None,
        on_written: OnWritten | None = None,
        batch_items: int = 64,
        batch_bytes: int = 16 * 1024 * 1024,
        retry_s: float = 1.0,
        max_retry_s: float = 15.0,
        adopted: Sequence[Spool] = (),
    ) -> None:
        self.store = store
        self.tap = tap
        self.spool = spool
        self.cost = cost
        self.on_written = on_written
        self.batch_items = batch_items
        self.batch_bytes = batch_bytes
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.healthy = True
        self.stats = WriterStats()
        self._next_try = 0.0
        self._backoff = retry_s
        self._replayed: set[int] = set()  # segments read back whole: their queued copies are done
        self.idle = asyncio.Event()
        self.adopted = list(adopted)  # other runs' spools, replayed first

    async def run(self, stop: asyncio.Event) -> None:
        """Write until ``stop`` is set and the tap is empty (or the store stays down)."""
        await self._replay_adopted()
        await self.replay()
        while True:
            self.idle.clear()
            batch = self.tap.drain(self.batch_items, self.batch_bytes)
            if batch:
                await self._write(batch)
                continue
            if (self.spool.replayable() or self.adopted) and time.monotonic() >= self._next_try:
                await self._replay_adopted()
                await self.replay()
            if stop.is_set() and not self.tap:
                return
            self.idle.set()
            await _first(self.tap.wakeup.wait(), stop.wait(), timeout=self._poll_s())

    def _poll_s(self) -> float:
        if self.spool.replayable():
            return max(self._next_try - time.monotonic(), 0.05)
        return 1.0

    async def _write(self, batch: list[tuple[Exchange, int | None]]) -> None:
        batch = [item for item in batch if item[1] not in self._replayed]
        segments = [seg for _, seg in batch if seg is not None]
        if self.spool.replayable():
            # Older records wait in the spool: these go after them, read back in spool order.
            self._leave_in_spool(segments)
            if time.monotonic() >= self._next_try:
                await self.replay()
            batch = [item for item in batch if item[1] is None]  # only in memory: write them now
            segments = []
        if not batch:
            return
        if not self.healthy and time.monotonic() < self._next_try:
            self._leave_in_spool(segments)
            return
        records = await asyncio.to_thread(self._derive, [ex for ex, _ in batch])
        if await self._store(records):
            self.spool.committed(segments)
        else:
            self._leave_in_spool(segments)
            self._sync_spool()

    def _leave_in_spool(self, segments: list[int]) -> None:
        for seg in set(segments):
            self.spool.mark_needs_replay(seg)

    def _derive(self, exchanges: list[Exchange]) -> list[RequestRecord]:
        return [derive(ex, self.cost) for ex in exchanges]

    async def _store(self, records: list[RequestRecord]) -> bool:
        try:
            await self.store.write_batch(records)
        except StoreUnavailable as exc:
            self._failed(exc)
            return False
        self._succeeded()
        self.stats.written += len(records)
        self.stats.batches += 1
        if self.on_written is not None:
            try:
                await self.on_written(records)
            except Exception:  # the records are safe; a linker bug must not stop recording
                log.exception("after-write hook failed for %d records", len(records))
        return True

    def _failed(self, exc: Exception) -> None:
        self.stats.failures += 1
        if self.healthy:
            log.error("store unavailable, spooling records until it is back: %s", exc)
        self.healthy = False
        self._next_try = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.max_retry_s)

    def _sync_spool(self) -> None:
        """While the store fails, the spool is the only copy: make it durable (after marking)."""
        try:
            self.spool.sync()
        except OSError:
            log.exception("spool fsync failed")

    def _succeeded(self) -> None:
        if not self.healthy:
            log.warning("store is back; replaying the spool")
        self.healthy = True
        self._backoff = self.retry_s

    async def _replay_adopted(self) -> None:
        while self.adopted:
            spool = self.adopted[0]
            if spool.replayable():
                await self.replay(spool)
            if spool.replayable():  # the store failed mid-way: keep it, retry later
                return
            remove_if_empty(spool)
            self.adopted.pop(0)

    async def replay(self, spool: Spool | None = None) -> int:
        """Write every record a spool holds that may be missing from the store, oldest first."""
        spool = spool or self.spool
        total = 0
        for segment in spool.replayable():
            exchanges = await asyncio.to_thread(spool.read, segment)
            for start in range(0, len(exchanges), self.batch_items):
                chunk = exchanges[start : start + self.batch_items]
                records = await asyncio.to_thread(self._derive, chunk)
                if not await self._store(records):
                    self._sync_spool()
                    return total
                total += len(records)
            spool.replayed(segment)
            if spool is self.spool:  # an adopted spool's numbers would hide this one's records
                self._replayed.add(segment)
        if total:
            self.stats.replayed += total
            log.info("replayed %d records from the spool", total)
        return total


async def _first(*aws: Awaitable[object], timeout: float) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
