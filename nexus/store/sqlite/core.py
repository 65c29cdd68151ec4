"""SQLite's side of the shared core: how lists are bound, space given back, backups taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from nexus.store.core import CoreMixin
from nexus.store.sqlite.connection import make_private_file


class SqliteCore(CoreMixin):
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
