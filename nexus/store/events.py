"""The live feed and full-text search, written once for both dialects (api area).

Reads the events table back in seq order with each request's current summary joined, and fills
the search index (``nexus/store/search.py``) in the transaction that writes each batch.
``index_search_backlog`` finds requests without search text (written before the index existed, or
whose index rows a crashed prune removed) with an anti-join and indexes them, so no request stays
unsearchable. Dialect mixins (``sqlite/events.py``,
``postgres/events.py``) add only how other processes' commits are heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nexus.records import LiveEvent, RequestRecord
from nexus.store.rows import summary_from_row
from nexus.store.search import search_text, search_text_from

if TYPE_CHECKING:
    from nexus.store.core import CoreMixin as _Base
else:
    _Base = object

_EVENT_WIDTH = 4  # seq, kind, ref_id, at_ms before the summary columns


class EventsCore(_Base):
    def _events_sql(self) -> Any:
        return self.q["events_after"].format(summary_columns=self.q["summary_columns"])

    async def events_after(self, after_seq: int, limit: int = 500) -> list[LiveEvent]:
        rows = await self._fetchall(self._events_sql(), [after_seq, limit])
        return [
            LiveEvent(
                seq=int(row[0]),
                kind=row[1],
                ref_id=row[2],
                at_ms=int(row[3]),
                summary=summary_from_row(row[_EVENT_WIDTH:]) if row[_EVENT_WIDTH] else None,
            )
            for row in rows
        ]

    async def last_event_seq(self) -> int:
        row = await self._fetchone("events_last_seq")
        return int(row[0]) if row else 0

    def _extra_rows(self, records: Sequence[RequestRecord]) -> Any:
        # The search text of new records, written in their own transaction: a request is never
        # stored without it (the backlog below is for stores written by older versions).
        return [(r.id, search_text(r)) for r in records]

    async def _write_extra(self, tx: Any, extra: Any) -> None:
        await tx.executemany("search_text_insert", extra)

    async def index_search_backlog(self, batch: int = 200) -> int:
        """Index requests stored without search text; returns how many. Safe to run any time."""
        done = 0
        while True:
            ids = [row[0] for row in await self._fetchall("search_unindexed", [batch])]
            if not ids:
                return done
            rows = []
            for request_id in ids:
                stored = await self.get_request(request_id)
                text = (
                    ""
                    if stored is None
                    else search_text_from(stored.request_body, stored.response_message)
                )
                rows.append((request_id, text))
            async with self._transaction() as tx:
                await tx.executemany("search_text_insert", rows)
            done += len(ids)
