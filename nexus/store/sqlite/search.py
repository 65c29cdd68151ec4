"""SQLite's full-text index: an FTS5 index paged newest match first, and emptied before a prune.

Search pages are read from the index newest-indexed match first, a growing chunk at a time,
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
from typing import TYPE_CHECKING

from nexus.records import Page, RequestFilter, RequestSummary
from nexus.store.connector import Row
from nexus.store.rows import summary_from_row
from nexus.store.search_index import SearchIndex

if TYPE_CHECKING:
    from nexus.store.requests import Requests

_FIRST_CHUNK = 200
_MAX_CHUNK = 20_000


class FtsSearchIndex(SearchIndex):
    async def list_matching(
        self, requests: Requests, flt: RequestFilter, cursor: str | None, limit: int
    ) -> Page[RequestSummary] | None:
        rest = dataclasses.replace(flt, text=None)
        found: list[Row] = []  # summary rows, newest first
        below = 1 << 62  # FTS rowids still to walk are below this
        chunk = max(_FIRST_CHUNK, 2 * (limit + 1))
        while True:
            matches = await self.db.fetchall(
                self.q["search_chunk"], {"text": flt.text, "below": below, "chunk": chunk}
            )
            if not matches:
                break
            below, ceiling = matches[-1]["id"], matches[-1]["id_ceiling"]
            ids = [m["request_id"] for m in matches if cursor is None or m["request_id"] < cursor]
            if ids:
                more = await requests.summary_rows(
                    rest, cursor, len(ids), self.q["search_match_ids"],
                    match_ids=self.dialect.array(ids),
                )  # fmt: skip
                found = sorted([*found, *more], key=lambda r: r["id"], reverse=True)
                del found[limit + 1 :]
            if len(matches) < chunk:
                break  # the index has no more matches
            if len(found) > limit and found[limit]["id"] > ceiling:
                break  # every unseen match is older than the page: it is complete
            chunk = min(chunk * 2, _MAX_CHUNK)
        items = [summary_from_row(r) for r in found[:limit]]
        return Page(items, items[-1].id if len(found) > limit and items else None)

    async def forget_before(self, requests: Requests, older_than_ms: int, batch: int = 200) -> None:
        """A crash before the prune leaves them unindexed; ``index_backlog`` indexes them again."""
        while rows := await self.db.fetchall(
            self.q["search_rows_before"], {"before": older_than_ms, "limit": batch}
        ):
            deletes = [
                {"id": r["id"], "text": await self.stored_text(requests, r["request_id"])}
                for r in rows
            ]
            async with self.db.transaction() as tx:
                await tx.executemany(self.q["search_text_delete"], deletes)
                await tx.executemany(
                    self.q["search_row_delete"], [{"id": d["id"]} for d in deletes]
                )
