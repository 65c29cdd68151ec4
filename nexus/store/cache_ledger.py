"""The cache ledger area (migration 0008, ``queries/common/cache.sql``), one class for both
dialects: break rows, the line of work a request's predecessor is found on, and the ledger's lists
and totals.

A request's summary carries its break through one column of ``summary_columns`` (read by
``rows.cache_break_from_json``). The list and totals take the request filters' WHERE
(``nexus.filters``). What a break is and why it happened is ``nexus.cache``'s; this area only keeps
the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nexus.errors import ApiError
from nexus.filters import request_where
from nexus.records import (
    CACHE_GROUPS,
    CacheBreakTotal,
    CacheCause,
    CacheLedgerEntry,
    Page,
    RequestFilter,
    now_ms,
)
from nexus.store.base import LedgerRow, Position
from nexus.store.connector import Area

_GROUPS = {"cause": "b.cause", "session": "r.session_id", "model": "r.model"}


class CacheBreaks(Area):
    async def cache_neighbours(
        self, conversation_id: str, branch: str, agent_id: str | None, at: Position
    ) -> tuple[str | None, str | None]:
        rows = await self.db.fetchall(
            self.q["cache_neighbours"],
            {"conversation_id": conversation_id, "branch": branch, "agent_id": agent_id,
             "at_ms": at[0], "request_id": at[1]},
        )  # fmt: skip
        found = {str(row["side"]): str(row["id"]) for row in rows}
        return found.get("p"), found.get("s")

    async def cache_branch_of(self, request_id: str) -> str | None:
        row = await self.db.fetchone(self.q["cache_branch_of"], {"request_id": request_id})
        return None if row is None or row["branch"] is None else str(row["branch"])

    async def write_cache_ledger(
        self, checked: Sequence[str], breaks: Sequence[LedgerRow], *, announce: bool = True
    ) -> int:
        ids = list(dict.fromkeys([*checked, *(b.request_id for b in breaks)]))
        if not ids:
            return 0
        async with self.db.transaction() as tx:
            before: dict[str, str] = {}
            for request_id in {b.request_id for b in breaks}:
                row = await tx.fetchone(self.q["cache_break_cause"], {"request_id": request_id})
                if row is not None:
                    before[request_id] = str(row["cause"])
            await tx.executemany(self.q["cache_break_delete"], [{"request_id": i} for i in ids])
            await tx.executemany(self.q["cache_break_insert"], [_row(b) for b in breaks])
            new = [b.request_id for b in breaks if before.get(b.request_id) != b.cause]
            if new and announce:
                at = now_ms()
                events = [{"kind": "cache_break", "ref_id": i, "at_ms": at} for i in new]
                await tx.executemany(self.q["event_insert"], events)
                tx.notify = True
        return len(new)

    async def clear_cache_ledger(self) -> None:
        await self.db.execute(self.q["cache_breaks_clear"], {})

    async def prune_cache_breaks(self, older_than_ms: int) -> int:
        return await self.db.execute(self.q["cache_breaks_prune"], {"before_ms": older_than_ms})

    async def list_cache_breaks(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[CacheLedgerEntry]:
        where, params = self._where(flt, cursor)
        sql = self.q["cache_breaks_list"].format(where=where)
        rows = await self.db.fetchall(sql, {**params, "limit": limit + 1})
        items = [_entry(row) for row in rows[:limit]]
        return Page(items, items[-1].request_id if len(rows) > limit and items else None)

    async def cache_break_totals(
        self, flt: RequestFilter, by: str, *, utc_offset_ms: int = 0
    ) -> list[CacheBreakTotal]:
        if by not in CACHE_GROUPS:
            raise ApiError(f"cannot total cache breaks by {by!r}; use one of {CACHE_GROUPS}")
        if by == "account":
            group = self.q["usage_account"]
        elif by == "day":
            group = self.q["usage_group_day"]  # :utc_offset_ms
        else:
            group = _GROUPS[by]
        where, params = self._where(flt, None)
        sql = self.q["cache_breaks_totals"].format(group=group, where=where)
        rows = await self.db.fetchall(sql, {**params, "utc_offset_ms": utc_offset_ms})
        totals = [
            CacheBreakTotal(
                group=None if row["grp"] is None else str(row["grp"]),
                breaks=int(row["breaks"]),
                missed_tokens=int(row["missed_tokens"] or 0),
                excess_cost_usd_micros=int(row["excess_cost_usd_micros"] or 0),
                unpriced_breaks=int(row["unpriced_breaks"] or 0),
            )
            for row in rows
        ]
        if by == "day":
            return sorted(totals, key=lambda t: t.group or "")
        return sorted(totals, key=lambda t: (-t.excess_cost_usd_micros, -t.missed_tokens))

    def _where(self, flt: RequestFilter, cursor: str | None) -> tuple[str, dict[str, Any]]:
        if flt.text:
            raise ApiError("the cache ledger cannot be searched by text")
        return request_where(flt, self.dialect, search_match=self.q["search_match"], cursor=cursor)


def _row(b: LedgerRow) -> dict[str, Any]:
    return {
        "request_id": b.request_id, "predecessor_id": b.predecessor_id,
        "started_at_ms": b.started_at_ms, "cause": b.cause, "detail": b.detail,
        "expected_tokens": b.expected_tokens, "read_tokens": b.read_tokens,
        "missed_tokens": b.missed_tokens, "excess_cost_usd_micros": b.excess_cost_usd_micros,
    }  # fmt: skip


def _entry(row: Any) -> CacheLedgerEntry:
    excess = row["excess_cost_usd_micros"]
    return CacheLedgerEntry(
        request_id=str(row["request_id"]),
        started_at_ms=int(row["started_at_ms"]),
        predecessor_id=str(row["predecessor_id"]),
        cause=CacheCause(row["cause"]),
        detail=str(row["detail"]),
        expected_tokens=int(row["expected_tokens"]),
        read_tokens=int(row["read_tokens"]),
        missed_tokens=int(row["missed_tokens"]),
        excess_cost_usd_micros=None if excess is None else int(excess),
        session_id=row["session_id"],
        account=row["account"],
        model=row["model"],
        conversation_id=row["conversation_id"],
    )
