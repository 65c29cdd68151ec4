"""Postgres's side of the shared core: array binding, numbered placeholders, VACUUM after prune."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus.errors import ConfigError
from nexus.store.core import CoreMixin
from nexus.store.filters import numbered

if TYPE_CHECKING:
    from nexus.records import RequestRecord

log = logging.getLogger("nexus.store")
# Records this process writes before it first refreshes the planner's statistics; then each time
# that count doubles.
_STATISTICS_FIRST = 200
# What the linker and the lists look up by index: without statistics the planner scans every key of
# a scope for each lookup (2 ms at 600 records, 10+ ms at 2 000: the recorder fell minutes behind).
_ANALYZED = "link_keys, link_nodes, links, conversations, requests"


class PostgresCore(CoreMixin):
    _statistics_at = 0  # records written here at the next refresh (0: the first one)
    _written_here = 0

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        await super().write_batch(records)
        self._written_here += len(records)
        if self._written_here >= (self._statistics_at or _STATISTICS_FIRST):
            self._statistics_at = 2 * self._written_here
            await self.refresh_statistics()

    async def refresh_statistics(self) -> None:
        """ANALYZE the tables lookups go through. Autovacuum does it too, when it runs (it may be
        off, and it waits for a tenth of a table to change): a fresh store that grows fast has no
        statistics at all, and its key lookups scan the whole scope instead of using the index."""
        try:
            async with self._connection() as conn:  # type: ignore[attr-defined]
                await conn.execute(f"ANALYZE {_ANALYZED}")
        except Exception as exc:  # statistics help; their absence must never stop recording
            log.warning("could not refresh the planner's statistics: %s", exc)

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
