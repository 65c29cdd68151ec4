"""Requests, one class for both dialects: writing record batches, reading a request back whole,
lists with filters and cursors, links, stats and pruning.

A batch is cut, hashed and compressed off the event loop (``rows.prepare_batch``), then written in
one transaction with its events and its search text (``search_index``). Filters are the one
filter's (``nexus.filters``); what differs between databases is the connector's and the dialect's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nexus.filters import request_where
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
from nexus.store.connector import Connector, Row, Tx
from nexus.store.content import CutMemory, cuts_from_json, rebuild_body
from nexus.store.queries.tables import BLOBS, MESSAGE_NODES, REQUESTS
from nexus.store.rows import (
    PreparedBatch,
    columns,
    decompress,
    headers_from_json,
    link_row,
    prepare_batch,
    summary_from_row,
    unpack_json,
)
from nexus.store.search_index import SearchIndex

# Hashes of blobs already stored (skips re-compressing them); ~90 bytes each, so ~9 MB at the cap.
_KNOWN_BLOBS_MAX = 100_000
_PRUNE_ORPHANS = (
    "prune_links",
    "prune_events",
    "prune_request_blobs",
    "prune_nodes",
    "prune_blobs",
)


def event_row(kind: str, ref_id: str, at_ms: int) -> dict[str, Any]:
    return {"kind": kind, "ref_id": ref_id, "at_ms": at_ms}


def batch_columns(
    batch: PreparedBatch, texts: Sequence[Mapping[str, Any]], at: int
) -> dict[str, Any]:
    """The values of ``request_batch_write``: one array per column of each table it fills."""
    return {
        **BLOBS.arrays(batch.blobs),
        **MESSAGE_NODES.arrays(batch.nodes),
        **REQUESTS.arrays(list(batch.requests.values())),
        **columns(batch.request_blobs, ("request_id", "hash"), "ref_"),
        **columns(texts, ("request_id",), "text_"),
        "text": [t["text"] for t in texts],
        "at_ms": at,
    }


@dataclass(slots=True)
class Requests:
    db: Connector
    q: Mapping[str, str]
    search: SearchIndex
    _known_blobs: set[bytes] = field(default_factory=set)  # stored already: skip re-compressing
    _cut_memory: CutMemory = field(default_factory=CutMemory)  # a history is not cut again

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        at_once = self.q.get("request_batch_write")  # Postgres: the batch in one statement
        if at_once is not None:
            batch = await self._write_at_once(records, at_once)
        else:
            batch = await self._write_in_transaction(records)
        if batch is None:
            return
        known = self._known_blobs
        if len(known) > _KNOWN_BLOBS_MAX:
            known.clear()
        known.update(batch.blob_hashes)
        await self.db.note_written(len(batch.requests))

    async def _write_in_transaction(self, records: Sequence[RequestRecord]) -> PreparedBatch | None:
        async with self.db.transaction() as tx:
            new = await self._new(tx, records)
            if not new:
                return None
            batch, texts = await self._prepare_off_loop(new)
            await tx.executemany(self.q["blob_insert"], batch.blobs)
            await tx.executemany(self.q["node_insert"], batch.nodes)
            await tx.executemany(self.q["request_insert"], list(batch.requests.values()))
            await tx.executemany(self.q["request_blob_insert"], batch.request_blobs)
            await self.search.write(tx, texts)
            at = now_ms()
            await tx.executemany(
                self.q["event_insert"], [event_row("request", r.id, at) for r in new]
            )
            tx.notify = True
        return batch

    async def _write_at_once(
        self, records: Sequence[RequestRecord], sql: str
    ) -> PreparedBatch | None:
        """The batch as one statement (its own transaction); what is stored already is asked
        first, outside it, and the statement skips whatever another process stored meanwhile."""
        new = await self._new(self.db, records)
        if not new:
            return None
        batch, texts = await self._prepare_off_loop(new)
        await self.db.execute(sql, batch_columns(batch, texts, now_ms()))
        return batch

    async def _new(
        self, db: Tx | Connector, records: Sequence[RequestRecord]
    ) -> list[RequestRecord]:
        """The records not stored yet: a replay or a retry after an outage is not cut, hashed or
        compressed again."""
        ids = self.db.sql_dialect.array([r.id for r in records])
        existing = {r["id"] for r in await db.fetchall(self.q["requests_existing"], {"ids": ids})}
        return [r for r in records if r.id not in existing]

    async def _prepare_off_loop(
        self, records: Sequence[RequestRecord]
    ) -> tuple[PreparedBatch, list[dict[str, Any]]]:
        # Cutting and compressing a batch of big bodies takes tens of ms: off the event loop,
        # unless nobody waits on it (``inline``: the recorder child). Only write_batch adds to
        # ``known``, after the batch is stored.
        if self.db.inline:
            return self._prepare(records, self._known_blobs)
        return await asyncio.to_thread(self._prepare, records, self._known_blobs)

    def _prepare(
        self, records: Sequence[RequestRecord], known: set[bytes]
    ) -> tuple[PreparedBatch, list[dict[str, Any]]]:
        return prepare_batch(records, known, self._cut_memory), self.search.rows(records)

    async def write_links(self, links: Sequence[Link]) -> None:
        if not links:
            return
        at = now_ms()
        async with self.db.transaction() as tx:
            await self.publish_links(tx, links, at)

    async def publish_links(self, tx: Tx, links: Sequence[Link], at: int) -> None:
        """Write links and their ``link`` events in ``tx``."""
        await tx.executemany(self.q["link_upsert"], [link_row(lk, at) for lk in links])
        await tx.executemany(
            self.q["event_insert"], [event_row("link", lk.request_id, at) for lk in links]
        )
        tx.notify = True

    async def get_request(self, request_id: str) -> StoredRequest | None:
        row = await self.db.fetchone(self.q["request_get"], {"id": request_id})
        if row is None:
            return None
        cuts = cuts_from_json(row["body_cuts"])
        blobs = await self._blobs(
            [c.ref for c in cuts if c.kind == "blob"] + [row["request_headers_hash"]]
        )
        chains = {c.ref: await self._chain(c.ref) for c in cuts if c.kind == "chain"}
        return StoredRequest(
            summary=summary_from_row(row),
            request_headers=headers_from_json(blobs.get(row["request_headers_hash"])),
            response_headers=headers_from_json(row["response_headers"]),
            ratelimit=headers_from_json(row["ratelimit"]),
            request_body=rebuild_body(bytes(row["body_skeleton"]), cuts, blobs, chains),
            response_body=decompress(row["response_codec"], row["response_body"]),
            response_message=unpack_json(row["response_message"]),
            auth_mode=row["auth_mode"],
            query=row["query"],
            first_byte_at_ms=row["first_byte_at_ms"],
        )

    async def _blobs(self, hashes: list[bytes]) -> dict[bytes, bytes]:
        hashes = [h for h in dict.fromkeys(hashes) if h is not None]
        if not hashes:
            return {}
        sql, params = self.db.sql_dialect.spread(self.q["blobs_get"], "hashes", hashes)
        rows = await self.db.fetchall(sql, params)
        return {bytes(r["hash"]): decompress(r["codec"], r["data"]) for r in rows}

    async def _chain(self, tail: bytes) -> list[tuple[bytes, bytes]]:
        rows = await self.db.fetchall(self.q["chain_get"], {"tail": tail})
        return [(bytes(r["sep"]), decompress(r["codec"], r["data"])) for r in rows]

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        if flt.text:
            found = await self.search.list_matching(self, flt, cursor, limit)
            if found is not None:
                return found
        rows = await self.summary_rows(flt, cursor, limit + 1)
        items = [summary_from_row(r) for r in rows[:limit]]
        return Page(items, items[-1].id if len(rows) > limit and items else None)

    async def summary_rows(
        self, flt: RequestFilter, cursor: str | None, limit: int, extra: str = "", **values: Any
    ) -> list[Row]:
        """Summary rows passing ``flt`` (and ``extra``, a clause with its ``values``), newest
        first."""
        where, params = self.where(flt, cursor)
        if extra:
            where = f"{where} AND {extra}" if where else f"WHERE {extra}"
        sql = self.q["requests_list"].format(where=where)
        return await self.db.fetchall(sql, {**params, **values, "limit": limit})

    async def count_requests(self, flt: RequestFilter) -> int:
        where, params = self.where(flt)
        row = await self.db.fetchone(self.q["requests_count"].format(where=where), params)
        return int(row["n"]) if row else 0

    def where(self, flt: RequestFilter, cursor: str | None = None) -> tuple[str, dict[str, Any]]:
        return request_where(
            flt, self.db.sql_dialect, search_match=self.q["search_match"], cursor=cursor
        )

    async def stats(self, dead_letters: int) -> StoreStats:
        requests = await self.db.fetchone(self.q["stats_requests"], {})
        blobs = await self.db.fetchone(self.q["stats_blobs"], {})
        size = await self.db.fetchone(self.q["stats_size"], {})
        return StoreStats(
            requests=int(requests["requests"]) if requests else 0,
            bytes_received=int(requests["received"]) if requests else 0,
            unique_content_bytes=int(blobs["unique_bytes"]) if blobs else 0,
            database_bytes=int(size["bytes"]) if size else 0,
            blobs=int(blobs["blobs"]) if blobs else 0,
            oldest_ms=requests["oldest"] if requests else None,
            newest_ms=requests["newest"] if requests else None,
            dead_letters=dead_letters,
        )

    async def prune(self, older_than_ms: int) -> int:
        await self.search.forget_before(self, older_than_ms)
        async with self.db.transaction() as tx:
            deleted = await tx.execute(self.q["prune_requests"], {"before": older_than_ms})
            for name in _PRUNE_ORPHANS:
                await tx.execute(self.q[name], {})
        self._known_blobs.clear()
        await self.db.reclaim_space()
        return deleted
