"""The live feed, one class for both dialects: the events table read back in seq order with each
request's current summary joined. Writers append events in the transaction that made the change;
how other processes hear of a commit is the connector's (``wait_for_notifications``).
"""

from __future__ import annotations

from nexus.records import LiveEvent
from nexus.store.connector import Area
from nexus.store.rows import summary_from_row


class Events(Area):
    async def events_after(self, after_seq: int, limit: int = 500) -> list[LiveEvent]:
        rows = await self.db.fetchall(
            self.q["events_after"], {"after_seq": after_seq, "limit": limit}
        )
        return [
            LiveEvent(
                seq=int(row["seq"]),
                kind=row["kind"],
                ref_id=row["ref_id"],
                at_ms=int(row["at_ms"]),
                summary=summary_from_row(row) if row["id"] else None,
            )
            for row in rows
        ]

    async def last_event_seq(self) -> int:
        row = await self.db.fetchone(self.q["events_last_seq"], {})
        return int(row["seq"]) if row else 0
