"""The full-text index, one class for both dialects: the text each new request adds (written in the
batch's own transaction, so a request is never stored without it) and the backlog of requests
stored without any (written by an older Nexus, or whose rows a crashed prune removed).

What the index is and how it matches is each dialect's (``queries/<dialect>/search.sql``). Postgres
needs nothing more: its ``search_match`` is a plain WHERE fragment. SQLite pages its FTS5 index
itself and takes rows out before a prune (``sqlite/search.py``, a subclass that overrides
``list_matching`` and ``forget_before``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nexus.records import Page, RequestFilter, RequestRecord, RequestSummary
from nexus.store.connector import Area, Tx
from nexus.store.search import search_text, search_text_from

if TYPE_CHECKING:
    from nexus.store.requests import Requests


class SearchIndex(Area):
    def rows(self, records: Sequence[RequestRecord]) -> list[dict[str, Any]]:
        """The search text of new records (CPU: runs in the batch's worker thread)."""
        return [{"request_id": r.id, "text": search_text(r)} for r in records]

    async def write(self, tx: Tx, rows: list[dict[str, Any]]) -> None:
        await tx.executemany(self.q["search_text_insert"], rows)

    async def stored_text(self, requests: Requests, request_id: str) -> str:
        """The search text of a stored request, computed again from its bodies."""
        stored = await requests.get_request(request_id)
        return (
            "" if stored is None else search_text_from(stored.request_body, stored.response_message)
        )

    async def index_backlog(self, requests: Requests, batch: int = 200) -> int:
        """Index requests stored without search text; returns how many. Safe to run any time."""
        done = 0
        while True:
            found = await self.db.fetchall(self.q["search_unindexed"], {"limit": batch})
            if not found:
                return done
            rows = [
                {"request_id": r["id"], "text": await self.stored_text(requests, r["id"])}
                for r in found
            ]
            async with self.db.transaction() as tx:
                await self.write(tx, rows)
            done += len(rows)

    async def list_matching(
        self, requests: Requests, flt: RequestFilter, cursor: str | None, limit: int
    ) -> Page[RequestSummary] | None:
        """A page of a text search found by the index's own walk; None: the list's SQL does it."""
        return None

    async def forget_before(self, requests: Requests, older_than_ms: int) -> None:
        """Take what a prune will delete out of the index, when the index cannot do it itself."""
