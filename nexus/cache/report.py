"""The cache ledger as a report: the JSON shape ``GET /api/cache`` answers and ``nexus cache``
prints. The sole owner of that shape (docs/api.md, Cache section).

Totals and groups join two sources: the ledger's break rows (missed tokens, excess dollars) and the
usage report's token sums for the same filter (cache reads and writes of *every* request, so the
efficiency ``read ÷ (read + write)`` covers the requests that did not break as well).
"""

from __future__ import annotations

from typing import Any, Protocol

from nexus.cache.price import cache_efficiency
from nexus.records import CacheBreakTotal, CacheLedgerEntry, Page, RequestFilter, UsageRow

_USAGE_GROUPS = ("session", "account", "model", "day")  # CACHE_GROUPS the usage report shares


class ReportSource(Protocol):
    async def list_cache_breaks(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[CacheLedgerEntry]: ...

    async def cache_break_totals(
        self, flt: RequestFilter, by: str, *, utc_offset_ms: int = 0
    ) -> list[CacheBreakTotal]: ...

    async def usage_report(
        self,
        flt: RequestFilter,
        group_by: Any = (),
        bucket: str | None = None,
        *,
        utc_offset_ms: int = 0,
    ) -> list[UsageRow]: ...


async def cache_report_json(
    store: ReportSource,
    flt: RequestFilter,
    by: str = "cause",
    *,
    cursor: str | None = None,
    limit: int = 100,
    utc_offset_ms: int = 0,
) -> dict[str, Any]:
    """``GET /api/cache``: overall totals, totals per ``by`` group, and one page of breaks."""
    groups = await store.cache_break_totals(flt, by, utc_offset_ms=utc_offset_ms)
    page = await store.list_cache_breaks(flt, cursor, limit)
    usage_by: dict[str | None, UsageRow] = {}
    if by in _USAGE_GROUPS:  # efficiency per group; "cause" has none (it is a break's)
        rows = await store.usage_report(flt, [by], utc_offset_ms=utc_offset_ms)
        usage_by = {dict(row.group).get(by): row for row in rows}
        # the totals are the groups' sums: one scan of the requests instead of two (issue 19's
        # second budget at 100 000 requests)
        overall = _usage_sums(rows)
    else:
        overall = _usage_sums(await store.usage_report(flt))
    return {
        "by": by,
        "since_ms": flt.since_ms,
        "until_ms": flt.until_ms,
        "utc_offset_ms": utc_offset_ms,
        "totals": _totals(groups, overall),
        "groups": [_group(total, usage_by.get(total.group)) for total in groups],
        "breaks": page.items,
        "next_cursor": page.next_cursor,
    }


def _usage_sums(rows: list[UsageRow]) -> tuple[int, int, int] | None:
    """(requests, cache read, cache write) over ``rows``; None when no request matched."""
    if not rows:
        return None
    return (
        sum(row.requests for row in rows),
        sum(row.cache_read_tokens for row in rows),
        sum(row.cache_write_5m_tokens + row.cache_write_1h_tokens for row in rows),
    )


def _tokens(sums: tuple[int, int, int] | None) -> dict[str, Any]:
    if sums is None:
        return {}
    requests, read, write = sums
    return {
        "requests": requests,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "efficiency": cache_efficiency(read, write),
    }


def _totals(groups: list[CacheBreakTotal], usage: tuple[int, int, int] | None) -> dict[str, Any]:
    return {
        "requests": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "efficiency": None,
        **_tokens(usage),
        "breaks": sum(g.breaks for g in groups),
        "missed_tokens": sum(g.missed_tokens for g in groups),
        "excess_cost_usd_micros": sum(g.excess_cost_usd_micros for g in groups),
        "unpriced_breaks": sum(g.unpriced_breaks for g in groups),
    }


def _group(total: CacheBreakTotal, usage: UsageRow | None) -> dict[str, Any]:
    return {
        "group": total.group,
        "breaks": total.breaks,
        "missed_tokens": total.missed_tokens,
        "excess_cost_usd_micros": total.excess_cost_usd_micros,
        "unpriced_breaks": total.unpriced_breaks,
        **_tokens(None if usage is None else _usage_sums([usage])),
    }
