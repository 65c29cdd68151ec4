"""The usage area, one class for both dialects: reports grouped by account, host, model, session,
client key, class and time; rate-limit readings and usage points for the windows; re-pricing
history.

SQL text lives in ``queries/common/usage.sql`` (time buckets per dialect); this module only picks
fragments and binds values. It knows nothing of prices or header meanings: those are
``nexus.usage``'s, passed in as ``cost_fn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nexus.errors import ApiError
from nexus.filters import request_where
from nexus.records import USAGE_GROUPS, USAGE_SUMS, RequestFilter, UsageRow
from nexus.store.base import RateLimitRow, UsagePoint
from nexus.store.connector import Area, Row
from nexus.store.rows import headers_from_json, opt_int, usage_from_row

if TYPE_CHECKING:
    from nexus.usage.cost import CostFunction

_TIME_GROUPS = ("day", "hour")
_FAR_FUTURE_MS = 1 << 62
_RECOST_PAGE = 5_000


class UsageQueries(Area):
    async def usage_report(
        self,
        flt: RequestFilter,
        group_by: Sequence[str] = (),
        bucket: str | None = None,
        *,
        utc_offset_ms: int = 0,
    ) -> list[UsageRow]:
        dims = list(dict.fromkeys(group_by))
        if bucket is not None and bucket not in dims:
            dims.append(bucket)
        unknown = [d for d in dims if d not in USAGE_GROUPS]
        if unknown:
            raise ApiError(f"cannot group usage by {unknown[0]!r}; use one of {USAGE_GROUPS}")
        select = [f"{self.q[f'usage_group_{dim}']} AS group_{i}" for i, dim in enumerate(dims)]
        needs_links = "class" in dims or bool(flt.traffic_class or flt.conversation_id)
        where, params = request_where(flt, self.dialect, search_match=self.q["search_match"])
        sql = self.q["usage_report"].format(
            groups="".join(f"{expr}, " for expr in select),
            # with the links join the planner may loop links outside; a forced index would then be
            # scanned once per link
            source="requests r" if needs_links else self.q["usage_requests_covered"],
            join=self.q["usage_links_join"] if needs_links else "",
            where=where,
            group_by=("GROUP BY " + ", ".join(str(i + 1) for i in range(len(dims))))
            if dims
            else "",
        )
        rows = await self.db.fetchall(sql, {**params, "utc_offset_ms": utc_offset_ms})
        out = [
            UsageRow(
                group=tuple(
                    (dim, None if row[f"group_{i}"] is None else str(row[f"group_{i}"]))
                    for i, dim in enumerate(dims)
                ),
                **{name: int(row[name] or 0) for name in USAGE_SUMS},
                first_ms=opt_int(row["first_ms"]),
                last_ms=opt_int(row["last_ms"]),
            )
            for row in rows
            if row["requests"]
        ]
        time_dims = [i for i, d in enumerate(dims) if d in _TIME_GROUPS]
        if time_dims:
            out.sort(key=lambda r: tuple(r.group[i][1] or "" for i in time_dims))
        else:
            # A group with no value (no client key, no session…) sorts after the named ones on a
            # tie: None and a name cannot be compared.
            out.sort(
                key=lambda r: (
                    -r.cost_usd_micros,
                    -r.requests,
                    tuple((value is None, value or "") for _, value in r.group),
                )
            )
        return out

    def _span(
        self, name: str, since_ms: int, until_ms: int | None, account: str | None
    ) -> tuple[str, dict[str, Any]]:
        """A statement over ``[since, until)`` of one account or all, and its values."""
        params: dict[str, Any] = {
            "since_ms": since_ms,
            "until_ms": _FAR_FUTURE_MS if until_ms is None else until_ms,
        }
        account_filter = ""
        if account is not None:
            account_filter = self.q["usage_account_filter"]
            params["account"] = account
        return self.q[name].format(account_filter=account_filter), params

    async def usage_readings(
        self,
        since_ms: int,
        until_ms: int | None = None,
        account: str | None = None,
        limit: int = 20_000,
    ) -> list[RateLimitRow]:
        sql, params = self._span("usage_readings", since_ms, until_ms, account)
        rows = await self.db.fetchall(sql, {**params, "limit": limit})
        return [_reading(row) for row in reversed(rows)]  # newest `limit`, oldest first

    async def usage_latest_readings(self, since_ms: int) -> list[RateLimitRow]:
        out = []
        for found in await self.db.fetchall(self.q["usage_reading_accounts"], {}):
            params = {"account": found["account"], "since_ms": since_ms}
            # the newest few by start; the newest by first byte (when the headers came) wins
            rows = [
                _reading(r)
                for r in await self.db.fetchall(self.q["usage_latest_for_account"], params)
            ]
            if rows:
                out.append(max(rows, key=lambda r: (r.at_ms, r.request_id)))
        return out

    async def usage_points(
        self, since_ms: int, until_ms: int | None = None, account: str | None = None
    ) -> list[UsagePoint]:
        sql, params = self._span("usage_points", since_ms, until_ms, account)
        return [
            UsagePoint(
                request_id=row["id"],
                at_ms=int(row["started_at_ms"]),
                account=row["account"],
                client_key_id=row["client_key_id"],
                session_id=row["session_id"],
                model=row["model"],
                usage=usage_from_row(row),
                cost_usd_micros=opt_int(row["cost_usd_micros"]),
            )
            for row in await self.db.fetchall(sql, params)
        ]

    async def recost(self, cost_fn: CostFunction) -> int:
        changed = 0
        after = ""
        while True:
            rows = await self.db.fetchall(
                self.q["usage_recost_page"], {"after": after, "limit": _RECOST_PAGE}
            )
            if not rows:
                return changed
            updates = []
            for row in rows:
                cost = cost_fn(row["model"], usage_from_row(row), int(row["started_at_ms"]))
                if cost != opt_int(row["cost_usd_micros"]):
                    updates.append({"cost": cost, "id": row["id"]})
            if updates:
                async with self.db.transaction() as tx:
                    await tx.executemany(self.q["usage_recost_update"], updates)
                changed += len(updates)
            after = rows[-1]["id"]


def _reading(row: Row) -> RateLimitRow:
    raw = row["ratelimit"]
    return RateLimitRow(
        request_id=row["request_id"],
        at_ms=int(row["at_ms"]),
        account=row["account"],
        client_key_id=row["client_key_id"],
        session_id=row["session_id"],
        ratelimit=headers_from_json(bytes(raw) if raw is not None else None),
    )
