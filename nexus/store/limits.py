"""The limit counters area (migration 0009, ``queries/common/limits.sql``), one class for both
dialects.

The recorder adds stored calls to counter rows (``add_to_counters``); each proxy process reads the
rows that changed since its last look (``counters_changed``) from a background task, never from a
request. Rows carry absolute values, so reading one twice is harmless: a reader looks back a little
before its last read to catch transactions that committed late.
"""

from __future__ import annotations

from collections.abc import Sequence

from nexus.records import CounterRow
from nexus.store.connector import Area

SHORT_KEEP_MS = 2 * 3_600_000  # minute and hour rows: the runaway guard looks back an hour at most
LONG_KEEP_MS = 400 * 86_400_000  # day and month rows: `nexus auth clients` shows last use from them


class LimitCounters(Area):
    async def add_to_counters(self, rows: Sequence[CounterRow]) -> None:
        if not rows:
            return
        ordered = sorted(rows, key=lambda r: (r.scope, r.kind, r.start_ms))  # one lock order
        async with self.db.transaction() as tx:
            await tx.executemany(
                self.q["limit_counters_add"],
                [
                    {"scope": r.scope, "kind": r.kind, "start_ms": r.start_ms,
                     "replica": r.replica, "end_ms": r.end_ms, "requests": r.requests,
                     "tokens": r.tokens, "cost_usd_micros": r.cost_usd_micros,
                     "last_at_ms": r.last_at_ms}
                    for r in ordered
                ],
            )  # fmt: skip

    async def counters_changed(
        self, since_ms: int, live_after_ms: int
    ) -> tuple[int, list[CounterRow]]:
        """The database's clock, and the rows updated after ``since_ms`` (that clock) whose window
        ends after ``live_after_ms``: one query."""
        found = await self.db.fetchall(
            self.q["limit_counters_changed"],
            {"since_ms": since_ms, "live_after_ms": live_after_ms},
        )
        clock = min(int(r["now_ms"]) for r in found)
        return clock, [
            CounterRow(str(r["scope"]), str(r["kind"]), int(r["start_ms"]), int(r["end_ms"]),
                       str(r["replica"]), int(r["requests"]), int(r["tokens"]),
                       int(r["cost_usd_micros"]), int(r["last_at_ms"]))
            for r in found
            if r["scope"] is not None
        ]  # fmt: skip

    async def counters_clock_ms(self) -> int:
        """The database's clock: rows are stamped with it, so replicas' clocks need not agree."""
        row = await self.db.fetchone(self.q["limit_counters_clock"], {})
        assert row is not None
        return int(row["now_ms"])

    async def prune_counters(self, now_ms: int) -> int:
        return await self.db.execute(
            self.q["limit_counters_prune"],
            {"short_before_ms": now_ms - SHORT_KEEP_MS, "long_before_ms": now_ms - LONG_KEEP_MS},
        )

    async def clients_last_used(self) -> dict[str, int]:
        """``client:<id>`` scope → start of its latest counted call."""
        rows = await self.db.fetchall(self.q["limit_counters_last_used"], {})
        return {str(r["scope"]): int(r["last_at_ms"]) for r in rows}
