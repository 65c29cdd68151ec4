"""The usage area of the store, written once for both dialects: reports grouped by account, host,
model, session, client key, class and time; rate-limit readings and usage points for the windows;
re-pricing history.

SQL text lives in ``queries/<dialect>/usage.sql``; this module only picks fragments and binds
values (``?`` placeholders, numbered for Postgres by ``_usage_sql``). It knows nothing of prices or
header meanings: those are ``nexus.usage``'s, passed in as ``cost_fn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nexus.errors import ApiError
from nexus.records import USAGE_GROUPS, RequestFilter, Usage
from nexus.store.base import CostFn, RateLimitRow, UsagePoint, UsageRow
from nexus.store.filters import build_where, numbered
from nexus.store.rows import headers_from_json

if TYPE_CHECKING:
    pass

_TIME_GROUPS = ("day", "hour")
_FAR_FUTURE_MS = 1 << 62
_RECOST_PAGE = 5_000


class UsageQueriesMixin:
    """Mixed into SqliteStore and PostgresStore (through their ``usage.py``)."""

    if TYPE_CHECKING:
        dialect: str
        q: dict[str, str]

        async def _fetchall(
            self, name: str, params: Mapping[str, Any] | Sequence[Any] = ()
        ) -> list[tuple[Any, ...]]: ...

        _transaction: Any  # each dialect's connection class provides it

    def _usage_sql(self, sql: str) -> str:
        return numbered(sql) if self.dialect == "postgres" else sql

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
        select: list[str] = []
        params: list[Any] = []
        for dim in dims:
            if dim == "account":
                select.append(self.q["usage_account"])
            else:
                select.append(self.q[f"usage_group_{dim}"])
                if dim in _TIME_GROUPS:
                    params.append(utc_offset_ms)
        needs_links = "class" in dims or bool(flt.traffic_class or flt.conversation_id)
        where, where_params = build_where(self.q, flt)
        sql = self.q["usage_report"].format(
            groups="".join(f"{expr}, " for expr in select),
            join=self.q["usage_links_join"] if needs_links else "",
            where=where,
            group_by=("GROUP BY " + ", ".join(str(i + 1) for i in range(len(dims))))
            if dims
            else "",
        )
        rows = await self._fetchall(self._usage_sql(sql), [*params, *where_params])
        n = len(dims)
        out = [
            UsageRow(
                group=tuple(
                    zip(dims, (None if v is None else str(v) for v in row[:n]), strict=True)
                ),
                requests=int(row[n]),
                errors=int(row[n + 1] or 0),
                input_tokens=int(row[n + 2] or 0),
                output_tokens=int(row[n + 3] or 0),
                cache_write_5m_tokens=int(row[n + 4] or 0),
                cache_write_1h_tokens=int(row[n + 5] or 0),
                cache_read_tokens=int(row[n + 6] or 0),
                cost_usd_micros=int(row[n + 7] or 0),
                unpriced_requests=int(row[n + 8] or 0),
                first_ms=None if row[n + 9] is None else int(row[n + 9]),
                last_ms=None if row[n + 10] is None else int(row[n + 10]),
            )
            for row in rows
            if row[n]
        ]
        time_dims = [i for i, d in enumerate(dims) if d in _TIME_GROUPS]
        if time_dims:
            out.sort(key=lambda r: tuple(r.group[i][1] or "" for i in time_dims))
        else:
            out.sort(key=lambda r: (-r.cost_usd_micros, -r.requests, r.group))
        return out

    async def usage_readings(
        self,
        since_ms: int,
        until_ms: int | None = None,
        account: str | None = None,
        limit: int = 20_000,
    ) -> list[RateLimitRow]:
        params: list[Any] = [since_ms, _FAR_FUTURE_MS if until_ms is None else until_ms]
        account_filter = ""
        if account is not None:
            account_filter = f"AND {self.q['usage_account']} = ?"
            params.append(account)
        sql = self.q["usage_readings"].format(
            account=self.q["usage_account"], account_filter=account_filter
        )
        rows = await self._fetchall(self._usage_sql(sql), [*params, limit])
        rows.reverse()  # newest `limit`, returned oldest first
        return [_reading(row) for row in rows]

    async def usage_latest_readings(self, since_ms: int) -> list[RateLimitRow]:
        account = self.q["usage_account"]
        accounts = await self._fetchall(
            self._usage_sql(self.q["usage_reading_accounts"].format(account=account))
        )
        latest_sql = self._usage_sql(self.q["usage_latest_for_account"].format(account=account))
        out = []
        for (name,) in accounts:
            # the newest few by start; the newest by first byte (when the headers came) wins
            rows = [_reading(r) for r in await self._fetchall(latest_sql, [name, since_ms])]
            if rows:
                out.append(max(rows, key=lambda r: (r.at_ms, r.request_id)))
        return out

    async def usage_points(
        self, since_ms: int, until_ms: int | None = None, account: str | None = None
    ) -> list[UsagePoint]:
        params: list[Any] = [since_ms, _FAR_FUTURE_MS if until_ms is None else until_ms]
        account_filter = ""
        if account is not None:
            account_filter = f"AND {self.q['usage_account']} = ?"
            params.append(account)
        sql = self.q["usage_points"].format(
            account=self.q["usage_account"], account_filter=account_filter
        )
        rows = await self._fetchall(self._usage_sql(sql), params)
        return [
            UsagePoint(
                request_id=row[0],
                at_ms=int(row[1]),
                account=row[2],
                client_key_id=row[3],
                session_id=row[4],
                model=row[5],
                usage=_usage(row[6:12]),
                cost_usd_micros=None if row[12] is None else int(row[12]),
            )
            for row in rows
        ]

    async def recost(self, cost_fn: CostFn) -> int:
        changed = 0
        after = ""
        while True:
            rows = await self._fetchall(
                self._usage_sql(self.q["usage_recost_page"]), [after, _RECOST_PAGE]
            )
            if not rows:
                return changed
            updates = []
            for row in rows:
                cost = cost_fn(row[1], _usage(row[3:9]), int(row[2]))
                old = None if row[9] is None else int(row[9])
                if cost != old:
                    updates.append((cost, row[0]))
            if updates:
                async with self._transaction() as tx:
                    await tx.executemany(self._usage_sql(self.q["usage_recost_update"]), updates)
                changed += len(updates)
            after = rows[-1][0]


def _usage(values: Sequence[Any]) -> Usage:
    inp, out, creation, five_m, one_h, read = (int(v or 0) for v in values)
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        cache_creation_input_tokens=creation,
        cache_creation_5m_tokens=five_m,
        cache_creation_1h_tokens=one_h,
        cache_read_input_tokens=read,
    )


def _reading(row: Sequence[Any]) -> RateLimitRow:
    raw = row[5]
    return RateLimitRow(
        request_id=row[0],
        at_ms=int(row[1]),
        account=row[2],
        client_key_id=row[3],
        session_id=row[4],
        ratelimit=headers_from_json(bytes(raw) if raw is not None else None),
    )
