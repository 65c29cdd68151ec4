"""The usage screen's data: ``GET /api/usage`` and ``GET /api/windows`` documents (see
docs/usage.md) read into small records — totals per account, a time series per account, and the
window gauges. Pure; the screen draws these."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AccountTotals:
    account: str
    requests: int
    errors: int
    input: int
    cache_write: int
    cache_read: int
    output: int
    cost_usd_micros: int
    unpriced: int

    @property
    def tokens(self) -> int:
        return self.input + self.cache_write + self.cache_read + self.output


@dataclass(frozen=True, slots=True)
class Series:
    """Buckets (oldest first) and, per group (account or host), one value per bucket."""

    buckets: list[str]
    tokens: dict[str, list[int]]
    cost_usd: dict[str, list[float]]
    requests: dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class WindowHistory:
    """One account's window (5h, 7d, …): utilization readings (hours before now, percent) and the
    resets that fell in the span (hours before now)."""

    account: str
    window: str
    hours_ago: list[float]
    percent: list[float]
    resets_hours_ago: list[float]


@dataclass(frozen=True, slots=True)
class Gauge:
    account: str
    window: str  # "5h", "7d", "7d_opus", …
    source: str  # "headers" | "estimate"
    utilization: float | None  # 0..1 (None for estimates)
    status: str | None
    resets_in_s: int | None
    is_binding: bool
    is_expired: bool
    requests: int
    tokens: int
    cost_usd_micros: int
    full_in_s: int | None = None  # forecast: 100 % at the current burn rate (None: not rising)
    is_full_before_reset: bool = False


def _account(group: dict[str, Any], by: str = "account") -> str:
    value = group.get(by)
    return str(value) if value is not None else "(none)"


def account_totals(doc: dict[str, Any], by: str = "account") -> list[AccountTotals]:
    """One row per group of the report (``by``: the dimension it is grouped by)."""
    out = []
    for row in doc.get("rows") or ():
        tokens = row.get("tokens") or {}
        out.append(
            AccountTotals(
                account=_account(row.get("group") or {}, by),
                requests=int(row.get("requests") or 0),
                errors=int(row.get("errors") or 0),
                input=int(tokens.get("input") or 0),
                cache_write=int(tokens.get("cache_write_5m") or 0)
                + int(tokens.get("cache_write_1h") or 0),
                cache_read=int(tokens.get("cache_read") or 0),
                output=int(tokens.get("output") or 0),
                cost_usd_micros=int(row.get("cost_usd_micros") or 0),
                unpriced=int(row.get("unpriced_requests") or 0),
            )
        )
    return out


def bucket_keys(bucket: str, now_ms: int, count: int, utc_offset_ms: int = 0) -> list[str]:
    """The last ``count`` bucket keys up to ``now_ms``, as the API names them (``2025-06-01T14``
    for hours, ``2025-06-01`` for days, in the offset's local time), oldest first."""
    step = 3_600_000 if bucket == "hour" else 86_400_000
    fmt = "%Y-%m-%dT%H" if bucket == "hour" else "%Y-%m-%d"
    local = now_ms + utc_offset_ms
    return [
        datetime.fromtimestamp((local - i * step) / 1000, UTC).strftime(fmt)
        for i in range(count - 1, -1, -1)
    ]


def series(
    doc: dict[str, Any], bucket: str, keys: list[str] | None = None, by: str = "account"
) -> Series:
    """Per group (``by``: account, host or client_key), one value per bucket; ``keys`` fixes the buckets
    (missing ones are 0)."""
    tokens: dict[str, dict[str, int]] = defaultdict(dict)
    cost: dict[str, dict[str, float]] = defaultdict(dict)
    requests: dict[str, dict[str, int]] = defaultdict(dict)
    buckets: set[str] = set()
    for row in doc.get("rows") or ():
        group = row.get("group") or {}
        when = group.get(bucket)
        if when is None:
            continue
        when = str(when)
        name = _account(group, by)
        buckets.add(when)
        tokens[name][when] = int((row.get("tokens") or {}).get("total") or 0)
        cost[name][when] = int(row.get("cost_usd_micros") or 0) / 1_000_000
        requests[name][when] = int(row.get("requests") or 0)
    ordered = keys if keys is not None else sorted(buckets)
    return Series(
        buckets=ordered,
        tokens={a: [v.get(b, 0) for b in ordered] for a, v in sorted(tokens.items())},
        cost_usd={a: [v.get(b, 0.0) for b in ordered] for a, v in sorted(cost.items())},
        requests={a: [v.get(b, 0) for b in ordered] for a, v in sorted(requests.items())},
    )


def window_history(doc: dict[str, Any], now_ms: int, since_ms: int) -> list[WindowHistory]:
    """The ``series`` of a ``GET /api/windows`` document per account and window, from
    ``since_ms``: each reading's utilization, and each reset (a reading's ``reset_at_ms`` that
    has passed, where the window started again from zero)."""
    out = []
    for account in doc.get("accounts") or ():
        points: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for point in account.get("series") or ():
            if point.get("utilization") is not None and int(point.get("at_ms") or 0) >= since_ms:
                points[str(point.get("window"))].append(point)
        for window, readings in sorted(points.items()):
            readings.sort(key=lambda p: int(p["at_ms"]))
            resets = sorted(
                {
                    int(p["reset_at_ms"])
                    for p in readings
                    if p.get("reset_at_ms") and since_ms <= int(p["reset_at_ms"]) <= now_ms
                }
            )
            out.append(
                WindowHistory(
                    account=str(account.get("account")),
                    window=window,
                    hours_ago=[(int(p["at_ms"]) - now_ms) / 3_600_000 for p in readings],
                    percent=[float(p["utilization"]) * 100 for p in readings],
                    resets_hours_ago=[(r - now_ms) / 3_600_000 for r in resets],
                )
            )
    return out


def gauges(doc: dict[str, Any]) -> list[Gauge]:
    out = []
    for account in doc.get("accounts") or ():
        for w in account.get("windows") or ():
            utilization = w.get("utilization")
            out.append(
                Gauge(
                    account=str(account.get("account")),
                    window=str(w.get("name")),
                    source=str(w.get("source") or account.get("source") or "headers"),
                    utilization=float(utilization) if utilization is not None else None,
                    status=w.get("status"),
                    resets_in_s=w.get("resets_in_s"),
                    is_binding=bool(w.get("is_binding")),
                    is_expired=bool(w.get("is_expired")),
                    requests=int(w.get("requests") or 0),
                    tokens=int(w.get("tokens") or 0),
                    cost_usd_micros=int(w.get("cost_usd_micros") or 0),
                    full_in_s=(w.get("forecast") or {}).get("full_in_s"),
                    is_full_before_reset=bool(
                        (w.get("forecast") or {}).get("is_full_before_reset")
                    ),
                )
            )
    return out


def short_bucket(value: str, bucket: str) -> str:
    """``2025-06-01T14`` → ``14h``; ``2025-06-01`` → ``06-01``."""
    if bucket == "hour" and "T" in value:
        return value.split("T", 1)[1][:2] + "h"
    return value[5:] if len(value) >= 10 else value


@dataclass(frozen=True, slots=True)
class Overview:
    """The conversations screen's stat cards for one period."""

    conversations: int
    people: int  # distinct client keys (team mode); 0 when nobody uses one
    accounts: int  # distinct accounts; 0 in pass-through mode
    requests: int
    tokens: int
    cost_usd_micros: int
    unpriced: int
    cache_read_share: float | None  # the server's cache efficiency (nexus.usage.report)


OVERVIEW_GROUPS = ("account", "client_key")
"""The ``by`` of the usage call an ``Overview`` is read from: one row per (account, key)."""


def overview(doc: dict[str, Any], conversations: int) -> Overview:
    """The cards from a usage document grouped by ``OVERVIEW_GROUPS`` and a conversation count."""
    rows = doc.get("rows") or ()
    total = doc.get("total") or {}
    share = total.get("cache_read_share")
    return Overview(
        conversations=conversations,
        people=len(
            {g["client_key"] for r in rows if (g := r.get("group") or {}).get("client_key")}
        ),
        accounts=len({g["account"] for r in rows if (g := r.get("group") or {}).get("account")}),
        requests=int(total.get("requests") or 0),
        tokens=int((total.get("tokens") or {}).get("total") or 0),
        cost_usd_micros=int(total.get("cost_usd_micros") or 0),
        unpriced=int(total.get("unpriced_requests") or 0),
        cache_read_share=float(share) if share is not None else None,
    )
