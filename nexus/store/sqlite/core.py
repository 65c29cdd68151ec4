"""SQLite's side of the shared core: how lists are bound, space given back, backups taken."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from nexus.store.core import CoreMixin
from nexus.store.sqlite.connection import make_private_file

if TYPE_CHECKING:
    from nexus.records import RequestRecord

# Records written between two looks at whether the planner's statistics are still true.
_STATISTICS_EVERY = 5_000
# Rows ANALYZE samples per index: bounds its cost (tens of ms at 100 000 requests) whatever the size.
_ANALYSIS_LIMIT = 1_000


class SqliteCore(CoreMixin):
    _since_statistics = 0
    _analyzed_rows: int | None = None  # requests when this process last analyzed

    async def open(self) -> None:
        await super().open()
        await self.refresh_statistics()  # a store that grew under an older Nexus has none

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        await super().write_batch(records)
        self._since_statistics += len(records)
        if self._since_statistics >= _STATISTICS_EVERY:
            self._since_statistics = 0
            await self.refresh_statistics()

    async def refresh_statistics(self) -> bool:
        """ANALYZE when there are no statistics, or the requests table has doubled since.

        Without statistics SQLite guesses, and for a sum scoped to one account it picked the
        host/account index over the time index: ``usage_now`` over 100 000 requests took 352 ms,
        53 ms once analyzed. ``analysis_limit`` keeps ANALYZE cheap, but its row counts are then
        estimates, so the count it is compared with is the one this process saw.
        """
        async with self._write_lock:
            conn = self._conn(writer=True)
            cursor = await conn.execute("SELECT count(*) FROM requests")
            rows = int((await cursor.fetchone() or (0,))[0])
            if self._analyzed_rows is None:  # first look in this process
                cursor = await conn.execute(
                    "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
                )
                if await cursor.fetchone() is not None:
                    self._analyzed_rows = rows  # analyzed before: take them as true for now
            if rows < 1_000 or (self._analyzed_rows is not None and rows < 2 * self._analyzed_rows):
                return False  # a small table plans well unanalyzed
            await conn.execute(f"PRAGMA analysis_limit={_ANALYSIS_LIMIT}")
            await conn.executescript("ANALYZE;")
            self._analyzed_rows = rows
            return True

    def _id_list(self, ids: list[str]) -> Any:
        return orjson.dumps(ids)

    def _blobs_query(self, hashes: list[bytes]) -> tuple[str, list[Any]]:
        return self.q["blobs_get"].format(placeholders=", ".join("?" * len(hashes))), hashes

    def _list_sql(self, name: str, where: str) -> str:
        return self._sql(name, where=where)

    async def _reclaim_space(self) -> None:
        async with self._write_lock:
            conn = self._conn(writer=True)
            # An FTS5 index only marks deleted rows; 'optimize' merges them away so their pages
            # become free. Found by kind, so the core needs to know no area's index by name.
            cursor = await conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%USING fts5%'"
            )
            for (name,) in await cursor.fetchall():
                await conn.execute(f'INSERT INTO "{name}" ("{name}") VALUES (\'optimize\')')
            # incremental_vacuum frees one page per step, and sqlite3's execute() steps once (and
            # leaves the statement open, which makes the checkpoint fail "table is locked");
            # executescript runs it to the end.
            await conn.executescript("PRAGMA incremental_vacuum;")
            cursor = await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await cursor.fetchall()
            await cursor.close()

    async def backup(self, path: Path) -> None:
        """An online, consistent copy of the database file (SQLite's backup API)."""
        import aiosqlite

        make_private_file(path)  # a backup holds everything the database does
        async with aiosqlite.connect(path) as target:
            await self._conn(writer=True).backup(target)
