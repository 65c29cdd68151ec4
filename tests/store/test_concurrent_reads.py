"""SQLite reads run side by side: a slow read (a count over a big table) does not hold a quick one
behind it, as it did on the store's single reader connection."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from nexus.store.sqlite.connector import SqliteConnector

# ~0.2 s or more of SQLite work on any machine this runs on, and an answer it has to compute.
SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
    "SELECT count(*) FROM n"
)


async def test_a_quick_read_is_not_held_behind_a_slow_one(tmp_path: Path) -> None:
    db = SqliteConnector(tmp_path / "n.db")
    await db.open()
    try:
        finished: dict[str, float] = {}

        async def read(name: str, sql: str) -> None:
            await db.fetchone(sql)
            finished[name] = time.perf_counter()

        async def quick_after_a_moment() -> None:
            await asyncio.sleep(0.05)  # the slow read is running on a reader by then
            await read("quick", "SELECT count(*) FROM _migrations")

        await asyncio.gather(read("slow", SLOW), quick_after_a_moment())
        assert finished["quick"] < finished["slow"]
        # and a write beside them still commits (WAL: readers do not block the writer)
        await db.execute("CREATE TABLE t (x INTEGER)")
    finally:
        await db.close()
