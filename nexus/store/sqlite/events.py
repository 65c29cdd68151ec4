"""SQLite live feed and full-text search: reading the events table, filling the search index.

The core appends events in its write transactions; this mixin reads them back in seq order with
each request's current summary joined. Search text (``nexus/store/search.py``) is written right
after each batch commits; ``index_search_backlog`` indexes whatever a crash left between the two
commits (an anti-join finds it), so no request stays unsearchable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nexus.records import LiveEvent, RequestRecord
from nexus.store.rows import summary_from_row
from nexus.store.search import search_text, search_text_from

if TYPE_CHECKING:
    from nexus.store.sqlite.core import CoreMixin as _Base
else:
    _Base = object

_EVENT_WIDTH = 4  # seq, kind, ref_id, at_ms before the summary columns


class EventsMixin(_Base):
    async def events_after(self, after_seq: int, limit: int = 500) -> list[LiveEvent]:
        sql = self.q["events_after"].format(summary_columns=self.q["summary_columns"])
        rows = await self._fetchall(sql, [after_seq, limit])
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

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """One process owns a SQLite file, so its own bus already hears every commit."""
        return None

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        await super().write_batch(records)
        await self._index_search_text(records)

    async def _index_search_text(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        indexed = {
            row[0]
            for row in await self._fetchall(
                "search_indexed_ids", [self._id_list([r.id for r in records])]
            )
        }
        todo = [r for r in records if r.id not in indexed]
        if not todo:
            return
        texts = await asyncio.to_thread(lambda: [(r.id, search_text(r)) for r in todo])
        async with self._transaction() as tx:
            await tx.executemany("search_text_insert", texts)

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
