"""The counter feed: quick reads take only what changed since the last read, and a row committed
after a read that its stamp preceded is still seen by the next full read."""

from __future__ import annotations

import time

from nexus.limits.counters import COST, CounterBook, CounterRow
from nexus.limits.feed import CounterFeed

MINUTE = 60_000


class _Store:
    """Counter rows stamped with a database clock and made visible at commit, as a real store."""

    def __init__(self) -> None:
        self.clock_ms = 1_000_000
        self.committed: list[tuple[int, CounterRow]] = []  # (stamp, row)
        self.asked: list[int] = []  # the ``since_ms`` of every read
        self.returned = 0

    def add(self, stamp_ms: int, cost: int) -> None:
        now = int(time.time() * 1000)
        start = now - now % MINUTE
        row = CounterRow("client:a@h", "minute", start, start + MINUTE, "r1", 1, 10, cost, now)
        self.committed = [(s, r) for s, r in self.committed if r.start_ms != start]
        self.committed.append((stamp_ms, row))

    async def counters_changed(
        self, since_ms: int, live_after_ms: int
    ) -> tuple[int, list[CounterRow]]:
        self.asked.append(since_ms)
        rows = [r for s, r in self.committed if s > since_ms and r.end_ms > live_after_ms]
        self.returned += len(rows)
        return self.clock_ms, rows


def _cost(book: CounterBook) -> int:
    now = int(time.time() * 1000)
    return book.used("client:a@h", "minute", now - now % MINUTE, COST)


async def test_quick_reads_skip_rows_already_read_and_a_full_read_catches_a_late_commit() -> None:
    store, book = _Store(), CounterBook("r1")
    feed = CounterFeed(store, book, overlap_ms=2_000)  # type: ignore[arg-type]
    store.add(stamp_ms=store.clock_ms - 10, cost=5)
    await feed.read_once()
    assert _cost(book) == 5
    # nothing new: a quick read asks only for rows stamped since the last read's clock
    store.clock_ms += 250
    await feed.read_once(full=False)
    assert store.asked[-1] == 1_000_000 - 1 and store.returned == 1
    # a row stamped before that read's clock, committed only after it (a long transaction)
    store.add(stamp_ms=1_000_000 + 100, cost=8)
    store.clock_ms += 250
    await feed.read_once(full=False)
    assert _cost(book) == 5  # a quick read cannot see it
    store.clock_ms += 500
    await feed.read_once(full=True)  # goes back the whole overlap before the last full read
    assert _cost(book) == 8
