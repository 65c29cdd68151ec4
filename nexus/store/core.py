"""The core of every store, written once for both dialects: writing record batches, reading a
request back whole, lists with filters and cursors, links, stats and pruning.

Dialects differ only in the hooks at the bottom of ``CoreMixin`` (how a list of ids or hashes is
bound, placeholder style, how space is given back), implemented in ``sqlite/core.py`` and
``postgres/core.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus.records import (
    Link,
    Page,
    RequestFilter,
    RequestRecord,
    RequestSummary,
    StoredRequest,
    now_ms,
)
from nexus.store.base import StoreStats
from nexus.store.content import CutMemory, cuts_from_json, rebuild_body
from nexus.store.filters import build_where
from nexus.store.rows import (
    SUMMARY_WIDTH,
    PreparedBatch,
    decompress,
    headers_from_json,
    prepare_batch,
    summary_from_row,
    unpack_json,
)

if TYPE_CHECKING:
    from nexus.store.sqlite.connection import SqliteConnection as _Base
else:
    _Base = object

# Hashes of blobs already stored (skips re-compressing them); ~90 bytes each, so ~9 MB at the cap.
_KNOWN_BLOBS_MAX = 100_000


class CoreMixin(_Base):
    _known_blobs: set[bytes]
    _cut_memory: CutMemory
    inline: bool

    def _sql(self, name: str, **parts: str) -> str:
        return self.q[name].format(summary_columns=self.q["summary_columns"], **parts)

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        known = self._known_blobs
        async with self._transaction() as tx:
            ids = [r.id for r in records]
            existing = {r[0] for r in await tx.fetchall("requests_existing", [self._id_list(ids)])}
            # A replay or a retry after an outage: what the store holds is not cut, hashed or
            # compressed again.
            new = [r for r in records if r.id not in existing]
            if not new:
                return
            # Cutting and compressing a batch of big bodies takes tens of ms: off the event loop,
            # unless nobody waits on it (``inline``: the recorder child). Only this method adds to
            # ``known``, after it.
            if self.inline:
                batch, extra = self._prepare(new, known)
            else:
                batch, extra = await asyncio.to_thread(self._prepare, new, known)
            await tx.executemany("blob_insert", batch.blobs)
            await tx.executemany("node_insert", batch.nodes)
            await tx.executemany("request_insert", list(batch.requests.values()))
            await tx.executemany("request_blob_insert", batch.request_blobs)
            await self._write_extra(tx, extra)
            at = now_ms()
            await tx.executemany("event_insert", [("request", r.id, at) for r in new])
            tx.notify = True
        if len(known) > _KNOWN_BLOBS_MAX:
            known.clear()
        known.update(batch.blob_hashes)

    def _prepare(
        self, records: Sequence[RequestRecord], known: set[bytes]
    ) -> tuple[PreparedBatch, Any]:
        return prepare_batch(records, known, self._cut_memory), self._extra_rows(records)

    def _extra_rows(self, records: Sequence[RequestRecord]) -> Any:
        """Rows other areas derive from new records, prepared in the same worker thread (CPU)."""
        return None

    async def _write_extra(self, tx: Any, extra: Any) -> None:
        """Write ``_extra_rows`` in the batch's own transaction."""

    async def write_links(self, links: Sequence[Link]) -> None:
        if not links:
            return
        at = now_ms()
        async with self._transaction() as tx:
            await tx.executemany(
                "link_upsert",
                [
                    (
                        lk.request_id,
                        str(lk.traffic_class),
                        lk.conversation_id,
                        lk.parent_request_id,
                        lk.branch,
                        lk.subtask_of,
                        lk.agent_id,
                        at,
                    )  # fmt: skip
                    for lk in links
                ],
            )
            await tx.executemany("event_insert", [("link", lk.request_id, at) for lk in links])
            tx.notify = True

    async def get_request(self, request_id: str) -> StoredRequest | None:
        row = await self._fetchone(self._sql("request_get"), [request_id])
        if row is None:
            return None
        (headers_hash, response_headers, ratelimit, skeleton, cuts_raw, response_body,
         response_codec, response_message, auth_mode, query, first_byte) = row[SUMMARY_WIDTH:]  # fmt: skip
        cuts = cuts_from_json(cuts_raw)
        wanted = [c.ref for c in cuts if c.kind == "blob"] + [headers_hash]
        blobs = await self._blobs(wanted)
        chains = {c.ref: await self._chain(c.ref) for c in cuts if c.kind == "chain"}
        return StoredRequest(
            summary=summary_from_row(row),
            request_headers=headers_from_json(blobs.get(headers_hash)),
            response_headers=headers_from_json(response_headers),
            ratelimit=headers_from_json(ratelimit),
            request_body=rebuild_body(bytes(skeleton), cuts, blobs, chains),
            response_body=decompress(response_codec, response_body),
            response_message=unpack_json(response_message),
            auth_mode=auth_mode,
            query=query,
            first_byte_at_ms=first_byte,
        )

    async def _blobs(self, hashes: list[bytes]) -> dict[bytes, bytes]:
        hashes = [h for h in dict.fromkeys(hashes) if h is not None]
        if not hashes:
            return {}
        sql, params = self._blobs_query(hashes)
        rows = await self._fetchall(sql, params)
        return {bytes(h): decompress(codec, data) for h, codec, data in rows}

    async def _chain(self, tail: bytes) -> list[tuple[bytes, bytes]]:
        rows = await self._fetchall("chain_get", [tail])
        return [(bytes(sep), decompress(codec, data)) for sep, codec, data in rows]

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        where, params = build_where(self.q, flt, cursor)
        rows = await self._fetchall(self._list_sql("requests_list", where), [*params, limit + 1])
        items = [summary_from_row(r) for r in rows[:limit]]
        next_cursor = items[-1].id if len(rows) > limit and items else None
        return Page(items, next_cursor)

    async def count_requests(self, flt: RequestFilter) -> int:
        where, params = build_where(self.q, flt)
        row = await self._fetchone(self._list_sql("requests_count", where), params)
        return int(row[0]) if row else 0

    async def stats(self) -> StoreStats:
        count, received, oldest, newest = await self._fetchone("stats_requests") or (
            0,
            0,
            None,
            None,
        )
        blobs, unique = await self._fetchone("stats_blobs") or (0, 0)
        size = await self._fetchone("stats_size")
        dead = await self._fetchone("dead_letters_count")
        return StoreStats(
            requests=count,
            bytes_received=received,
            unique_content_bytes=unique,
            database_bytes=int(size[0]) if size else 0,
            blobs=blobs,
            oldest_ms=oldest,
            newest_ms=newest,
            dead_letters=int(dead[0]) if dead else 0,
        )

    async def prune(self, older_than_ms: int) -> int:
        async with self._transaction() as tx:
            deleted = await tx.execute("prune_requests", [older_than_ms])
            for name in (
                "prune_links",
                "prune_events",
                "prune_request_blobs",
                "prune_nodes",
                "prune_blobs",
            ):
                await tx.execute(name)
        self._known_blobs.clear()
        await self._reclaim_space()
        return deleted

    # -- dialect hooks ------------------------------------------------------------------------
    def _id_list(self, ids: list[str]) -> Any:
        raise NotImplementedError

    def _blobs_query(self, hashes: list[bytes]) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def _list_sql(self, name: str, where: str) -> str:
        raise NotImplementedError

    async def _reclaim_space(self) -> None:
        raise NotImplementedError

    async def backup(self, path: Path) -> None:
        raise NotImplementedError
