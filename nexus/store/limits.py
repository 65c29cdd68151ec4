"""The limit counters area, written once for both dialects (migration 0009, queries limits.sql).

The recorder adds stored calls to counter rows (``add_to_counters``); each proxy process reads the
rows that changed since its last look (``counters_changed``) from a background task, never from a
request. Rows carry absolute values, so reading one twice is harmless: a reader looks back a little
before its last read to catch transactions that committed late.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nexus.limits.counters import CounterRow

if TYPE_CHECKING:
    from nexus.store.core import CoreMixin as _Base
else:
    _Base = object

SHORT_KEEP_MS = 2 * 3_600_000  # minute and hour rows: the runaway guard looks back an hour at most
LONG_KEEP_MS = 400 * 86_400_000  # day and month rows: `nexus auth clients` shows last use from them


class LimitsMixin(_Base):
    async def add_to_counters(self, rows: Sequence[CounterRow]) -> None:
        if not rows:
            return
        ordered = sorted(rows, key=lambda r: (r.scope, r.kind, r.start_ms))  # one lock order
        async with self._transaction() as tx:
            await tx.executemany(
                "limit_counters_add",
                [
                    (r.scope, r.kind, r.start_ms, r.replica, r.end_ms, r.requests, r.tokens,
                     r.cost_usd_micros, r.last_at_ms)
                    for r in ordered
                ],
            )  # fmt: skip

    async def counters_changed(self, since_ms: int, live_after_ms: int) -> list[CounterRow]:
        """Rows updated after ``since_ms`` (database clock) whose window ends after
        ``live_after_ms``."""
        found = await self._fetchall("limit_counters_changed", [since_ms, live_after_ms])
        return [
            CounterRow(str(r[0]), str(r[1]), int(r[2]), int(r[3]), str(r[4]), int(r[5]),
                       int(r[6]), int(r[7]), int(r[8]))
            for r in found
        ]  # fmt: skip

    async def counters_clock_ms(self) -> int:
        """The database's clock: rows are stamped with it, so replicas' clocks need not agree."""
        row = await self._fetchone("limit_counters_clock")
        assert row is not None
        return int(row[0])

    async def prune_counters(self, now_ms: int) -> int:
        return await self._execute(
            "limit_counters_prune", [now_ms - SHORT_KEEP_MS, now_ms - LONG_KEEP_MS]
        )

    async def clients_last_used(self) -> dict[str, int]:
        """``client:<id>`` scope → start of its latest counted call."""
        return {str(r[0]): int(r[1]) for r in await self._fetchall("limit_counters_last_used")}
