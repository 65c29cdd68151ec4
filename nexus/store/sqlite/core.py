"""SQLite's side of the shared core: how lists are bound, space given back, backups taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from nexus.store.core import CoreMixin


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
            await conn.execute("PRAGMA incremental_vacuum")
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def backup(self, path: Path) -> None:
        """An online, consistent copy of the database file (SQLite's backup API)."""
        import aiosqlite

        path.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(path) as target:
            await self._conn(writer=True).backup(target)
