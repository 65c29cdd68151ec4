"""Postgres's side of the shared core: array binding, numbered placeholders, VACUUM after prune."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from nexus.errors import ConfigError
from nexus.store.core import CoreMixin
from nexus.store.filters import numbered


class PostgresCore(CoreMixin):
    def _id_list(self, ids: list[str]) -> Any:
        return ids

    def _blobs_query(self, hashes: list[bytes]) -> tuple[str, list[Any]]:
        return "blobs_get", [hashes]

    def _list_sql(self, name: str, where: str) -> str:
        return numbered(self._sql(name, where=where))

    async def _reclaim_space(self) -> None:
        # Plain VACUUM makes the space reusable without locking writers out; VACUUM FULL would
        # give it to the OS but blocks every other replica, so that stays a manual decision.
        async with self._connection() as conn:  # type: ignore[attr-defined]
            for table in ("requests", "links", "request_blobs", "message_nodes", "blobs", "events"):
                with contextlib.suppress(Exception):
                    await conn.execute(f"VACUUM {table}")

    async def backup(self, path: Path) -> None:
        raise ConfigError("use pg_dump to back up a Postgres store (nexus db backup prints it)")
