"""SQLite's side of the live feed and search.

One process owns a SQLite file, so its own bus hears every commit: there is nothing to listen to.

Search pages are read from the FTS5 index newest-indexed match first, a growing chunk at a time,
instead of asking SQLite for every match and sorting them all (a word in most requests would cost
the whole index per page). Indexing order is nearly, not exactly, request order (a spool replay
writes old requests late), so each index row carries ``id_ceiling``, the greatest request id
indexed before it: once the page's last row is newer than the ceiling where the walk stands, no
unseen match can belong on the page, and the page is exact.

The index is contentless (it keeps no copy of the text, migration 0007), so it can drop a row's
tokens only when given the same text again: before a prune deletes requests, their search text is
computed again from their stored bodies and removed from the index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson

from nexus.records import Page, RequestFilter, RequestSummary
from nexus.store.events import EventsCore
from nexus.store.filters import build_where
from nexus.store.rows import summary_from_row
from nexus.store.search import search_text_from

_FIRST_CHUNK = 200
_MAX_CHUNK = 20_000


class EventsMixin(EventsCore):
    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        return None

    async def prune(self, older_than_ms: int) -> int:
        await self._unindex_before(older_than_ms)
        return await super().prune(older_than_ms)

    async def _unindex_before(self, older_than_ms: int, batch: int = 200) -> None:
        """Take the requests a prune will delete out of the index (a crash before the prune leaves
        them unindexed, and ``index_search_backlog`` indexes them again)."""
        while rows := await self._fetchall("search_rows_before", [older_than_ms, batch]):
            deletes = []
            for row_id, request_id in rows:
                stored = await self.get_request(request_id)
                text = (
                    ""
                    if stored is None
                    else search_text_from(stored.request_body, stored.response_message)
                )
                deletes.append((row_id, text))
            async with self._transaction() as tx:
                await tx.executemany("search_text_delete", deletes)
                await tx.executemany("search_row_delete", [(row_id,) for row_id, _ in deletes])

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        if not flt.text:
            return await super().list_requests(flt, cursor, limit)
        rest = dataclasses.replace(flt, text=None)
        found: list[tuple[Any, ...]] = []  # summary rows, newest first
        below = 1 << 62  # FTS rowids still to walk are below this
        chunk = max(_FIRST_CHUNK, 2 * (limit + 1))
        while True:
            matches = await self._fetchall("search_chunk", [flt.text, below, chunk])
            if not matches:
                break
            below, ceiling = matches[-1][0], matches[-1][2]
            ids = [m[1] for m in matches if cursor is None or m[1] < cursor]
            if ids:
                found = sorted(found + await self._matching(rest, cursor, ids), reverse=True)
                del found[limit + 1 :]
            if len(matches) < chunk:
                break  # the index has no more matches
            if len(found) > limit and found[limit][0] > ceiling:
                break  # every unseen match is older than the page: it is complete
            chunk = min(chunk * 2, _MAX_CHUNK)
        items = [summary_from_row(r) for r in found[:limit]]
        return Page(items, items[-1].id if len(found) > limit and items else None)

    async def _matching(
        self, flt: RequestFilter, cursor: str | None, ids: list[str]
    ) -> list[tuple[Any, ...]]:
        """Summary rows of ``ids`` that pass the other filters."""
        where, params = build_where(self.q, flt, cursor)
        where = (where + " AND " if where else "WHERE ") + self.q["filter_ids"]
        sql = self._list_sql("requests_list", where)
        return await self._fetchall(sql, [*params, orjson.dumps(ids), len(ids)])
