"""Keeps the proxy's ``CounterBook`` up to date from the counter rows every replica's recorder
writes: a background task of the proxy process, never a request's business.

It reads the rows that changed since its last look, about once a second, and at once when the
local recorder reports a write (``wake``). Rows are stamped with the database's clock (on SQLite
too: the stamp is taken inside the writer's transaction), so the replicas' clocks need not agree.
A row stamped before a read but committed after it is missed by that read: at least once every
``FULL_READ_S`` a read goes back ``OVERLAP_MS`` before the previous such read, which sees it. The
reads in between (woken by the local recorder) only go back to the previous read, so a busy
proxy does not read every row again on each wake-up (measured: that re-reading was most of the
feed's CPU under load, benchmarks/limits_overhead.py). While the database is down the book keeps its last state and the
limiter keeps deciding from it (docs/limits.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from nexus.errors import StoreUnavailable
from nexus.limits.counters import CounterBook, CounterRow
from nexus.records import now_ms

log = logging.getLogger("nexus.limits")
OVERLAP_MS = 2_000  # a batch's rows are stamped inside its transaction and seen at its commit
LOOKBACK_MS = 65 * 60_000  # the runaway guard's longest look back (60 minutes) and some slack
MIN_GAP_S = 0.25  # wake-ups closer than this share one read (each read costs the proxy CPU)
FULL_READ_S = 1.0  # at least this often, a read with the whole overlap (late commits)


class CounterStore(Protocol):
    async def counters_changed(
        self, since_ms: int, live_after_ms: int
    ) -> tuple[int, list[CounterRow]]: ...


class CounterFeed:
    def __init__(
        self,
        store: CounterStore,
        book: CounterBook,
        *,
        interval_s: float = 1.0,
        overlap_ms: int = OVERLAP_MS,
    ) -> None:
        self.store = store
        self.book = book
        self.interval_s = interval_s
        self.overlap_ms = overlap_ms
        self.reads = 0
        self._since_ms = 0  # where the next full read starts (the last one's clock - overlap)
        self._last_clock_ms = 0  # where a quick read starts (the last read's clock)
        self._wake = asyncio.Event()
        self._healthy = True

    def wake(self) -> None:
        """The local recorder stored something: read the counters soon."""
        self._wake.set()

    async def read_once(self, *, full: bool = True) -> None:
        """Read the changed rows; ``full``: back to ``overlap_ms`` before the last full read,
        else only back to the last read (rows committed late wait for the next full read)."""
        live_after = now_ms() - LOOKBACK_MS
        since = self._since_ms if full else max(self._since_ms, self._last_clock_ms)
        # the clock comes with the rows, read as the query runs: a row stamped before it but
        # committed after the query's snapshot is the late commit the full reads' overlap catches
        clock, rows = await self.store.counters_changed(since, live_after)
        self.book.apply(rows)
        self.book.forget_before(live_after)
        self._last_clock_ms = clock - 1  # rows stamped in the clock's own ms too
        if full:
            self._since_ms = clock - self.overlap_ms - 1
        self.reads += 1

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_full = loop.time()  # ``run`` starts after a full read (server start)
        while not stop.is_set():
            began = loop.time()
            self._wake.clear()
            full = began - last_full >= FULL_READ_S
            try:
                await self.read_once(full=full)
                if full:
                    last_full = began
                if not self._healthy:
                    log.warning("limit counters are read again")
                self._healthy = True
            except StoreUnavailable as exc:
                if self._healthy:
                    log.error("cannot read the limit counters (limits use the last known): %s", exc)
                self._healthy = False
            # cancelled at shutdown like every side task; ``stop`` ends it between reads
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            gap = MIN_GAP_S - (loop.time() - began)
            if gap > 0:
                await asyncio.sleep(gap)
