"""Usage and windows reports as the CLI, the API and the TUI see them: one JSON shape for all.

This module owns composing the store's usage queries into the two reports (``usage_report_json``
for ``GET /api/usage`` and ``nexus usage``; ``windows_report`` / ``windows_json`` for
``GET /api/windows``) and their wire shape, documented in ``docs/api.md``. It reads a store only
through the four reads of ``nexus.usage.source.UsageSource`` (this layer does not import the store), and
leaves rendering to the CLI and TUI.

Just over ~400 lines: both reports share their filter, grouping and wire-shape helpers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nexus.records import USAGE_SUMS, RequestFilter, UsageRow
from nexus.usage.forecast import WindowForecast, forecast_window
from nexus.usage.ratelimit import ApiLimit
from nexus.usage.source import UsageSource
from nexus.usage.windows import (
    ESTIMATE_WINDOWS,
    AccountWindows,
    Attribution,
    SeriesPoint,
    WindowState,
    attribute_rises,
    combine_windows,
    latest_snapshots,
    series,
)

__all__ = [
    "WindowsReport",
    "usage_report_json",
    "usage_row_json",
    "windows_json",
    "windows_report",
]

DAY_MS = 86_400_000
LATEST_LOOKBACK_MS = 8 * DAY_MS  # a reading older than the longest window says nothing current
FORECAST_READINGS_MS = 2 * DAY_MS  # covers the 7-day window's lookback (a fifth: 34 h)
MAX_SERIES_POINTS = 500  # per account and window; older points are thinned, resets are kept


# -- usage ---------------------------------------------------------------------------------------


async def usage_report_json(
    store: UsageSource,
    flt: RequestFilter,
    group_by: Sequence[str],
    bucket: str | None = None,
    *,
    utc_offset_ms: int = 0,
) -> dict[str, Any]:
    """``GET /api/usage``: totals per group and overall, largest cost first (time: oldest first)."""
    rows = await store.usage_report(flt, group_by, bucket, utc_offset_ms=utc_offset_ms)
    dims = list(dict.fromkeys([*group_by, *([bucket] if bucket else [])]))
    return {
        "group_by": dims,
        "since_ms": flt.since_ms,
        "until_ms": flt.until_ms,
        "utc_offset_ms": utc_offset_ms,
        "rows": [usage_row_json(row) for row in rows],
        "total": _total(rows),
    }


def usage_row_json(row: Any) -> dict[str, Any]:
    tokens = {
        "input": row.input_tokens,
        "cache_write_5m": row.cache_write_5m_tokens,
        "cache_write_1h": row.cache_write_1h_tokens,
        "cache_read": row.cache_read_tokens,
        "output": row.output_tokens,
    }
    tokens["total"] = sum(tokens.values())
    return {
        "group": dict(row.group),
        "requests": row.requests,
        "errors": row.errors,
        "tokens": tokens,
        "cost_usd_micros": row.cost_usd_micros,
        "cost_usd": row.cost_usd_micros / 1_000_000,
        "unpriced_requests": row.unpriced_requests,
        "cache_read_share": cache_read_share(tokens),
        "first_ms": row.first_ms,
        "last_ms": row.last_ms,
    }


def cache_read_share(tokens: dict[str, int]) -> float | None:
    """Cache efficiency: the share of the prompt (fresh input, cache writes and reads) that was
    read from the cache; ``None`` with no prompt tokens."""
    cached = tokens["cache_read"]
    prompt = tokens["input"] + tokens["cache_write_5m"] + tokens["cache_write_1h"] + cached
    return round(cached / prompt, 4) if prompt else None


def _total(rows: Sequence[Any]) -> dict[str, Any]:
    sums: dict[str, int] = defaultdict(int)
    firsts = [r.first_ms for r in rows if r.first_ms is not None]
    lasts = [r.last_ms for r in rows if r.last_ms is not None]
    for row in rows:
        for name in USAGE_SUMS:
            sums[name] += getattr(row, name)
    total = UsageRow(
        group=(),
        first_ms=min(firsts, default=None),
        last_ms=max(lasts, default=None),
        **{name: sums[name] for name in USAGE_SUMS},
    )
    body = usage_row_json(total)
    del body["group"]
    return body


# -- windows -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowsReport:
    now_ms: int
    accounts: tuple[AccountWindows, ...]
    series: tuple[SeriesPoint, ...] = ()
    attributions: tuple[Attribution, ...] = ()
    forecasts: tuple[WindowForecast, ...] = ()


async def windows_report(
    store: UsageSource,
    now_ms: int,
    *,
    account: str | None = None,
    since_ms: int | None = None,
    with_series: bool = True,
    with_attribution: bool = True,
    every_period: bool = False,
) -> WindowsReport:
    """Per account: the latest state (server-reported or estimated), and since ``since_ms``
    (default: 7 days) the readings over time and who caused each rise: in each window's current
    period only, or in ``every_period`` since ``since_ms``."""
    latest = await store.usage_latest_readings(now_ms - LATEST_LOOKBACK_MS)
    if account is not None:
        latest = [r for r in latest if r.account == account]
    snapshots = latest_snapshots(latest)
    if account is not None and account in snapshots and snapshots[account][1].has_unified:
        estimates = {}  # the server's own windows win over estimates: none to compute
    else:
        estimates = await _estimates(store, now_ms, account)
    accounts = combine_windows(snapshots, estimates, now_ms)
    points: tuple[SeriesPoint, ...] = ()
    shares: tuple[Attribution, ...] = ()
    since = now_ms - 7 * DAY_MS if since_ms is None else since_ms
    every_point: list[SeriesPoint] = []
    if with_series or with_attribution:
        readings = await store.usage_readings(since, None, account)
        every_point = series(readings)
        if with_series:
            points = tuple(thin_series(every_point))
        if with_attribution and readings:
            usage_points = await store.usage_points(since, None, account)
            shares = tuple(attribute_rises(readings, usage_points, series_points=every_point))
            if not every_period:
                current = {(a.account, w.name): w.reset_at_ms for a in accounts for w in a.windows}
                shares = tuple(
                    s for s in shares if current.get((s.account, s.window), 0) == s.reset_at_ms
                )
    forecast_from = now_ms - FORECAST_READINGS_MS
    if (with_series or with_attribution) and since <= forecast_from:
        recent = [p for p in every_point if p.at_ms > forecast_from]
    else:
        recent = series(await store.usage_readings(forecast_from, None, account))
    return WindowsReport(now_ms, tuple(accounts), points, shares, forecasts(recent, now_ms))


def forecasts(points: Iterable[SeriesPoint], now_ms: int) -> tuple[WindowForecast, ...]:
    """One forecast per account and window that has readings."""
    grouped: dict[tuple[str, str], list[SeriesPoint]] = defaultdict(list)
    for p in points:
        grouped[(p.account, p.window)].append(p)
    found = (forecast_window(pts, now_ms) for _, pts in sorted(grouped.items()))
    return tuple(f for f in found if f is not None)


async def _estimates(
    store: UsageSource, now_ms: int, account: str | None
) -> dict[str, tuple[WindowState, ...]]:
    """Rolling 5h and 7d sums per account, from two grouped queries (no row goes to Python)."""
    by_window: dict[str, dict[str, Any]] = {}
    # One account id narrows the sums to its rows (a "key:" or "host:" label has no filter).
    account_id = account if account and not account.startswith(("key:", "host:")) else None
    for name, length_ms in ESTIMATE_WINDOWS:
        flt = RequestFilter(
            since_ms=now_ms - length_ms + 1, until_ms=now_ms + 1, account_id=account_id
        )
        rows = await store.usage_report(flt, ["account"])
        # the account label is never NULL (its last fallback is the host, NOT NULL)
        labelled = ((dict(r.group)["account"], r) for r in rows)
        by_window[name] = {label: r for label, r in labelled if label is not None}
    names = set().union(*(set(rows) for rows in by_window.values()))
    if account is not None:
        names &= {account}
    out = {}
    for acct in names:
        states = []
        for name, _ in ESTIMATE_WINDOWS:
            row = by_window[name].get(acct)
            states.append(_estimate_state(name, now_ms, row))
        out[acct] = tuple(states)
    return out


def _estimate_state(name: str, now_ms: int, row: Any | None) -> WindowState:
    if row is None:
        return WindowState(name=name, source="estimate", at_ms=now_ms)
    return WindowState(
        name=name,
        source="estimate",
        at_ms=now_ms,
        requests=row.requests,
        tokens=row.input_tokens
        + row.output_tokens
        + row.cache_write_5m_tokens
        + row.cache_write_1h_tokens
        + row.cache_read_tokens,
        output_tokens=row.output_tokens,
        cost_usd_micros=row.cost_usd_micros,
        unpriced_requests=row.unpriced_requests,
    )


def thin_series(points: Iterable[SeriesPoint], limit: int = MAX_SERIES_POINTS) -> list[SeriesPoint]:
    """At most ``limit`` points per account and window: evenly spaced, keeping the newest point
    and the last point before each reset (the peak of a finished window)."""
    groups: dict[tuple[str, str], list[SeriesPoint]] = defaultdict(list)
    for point in points:
        groups[(point.account, point.window)].append(point)
    out: list[SeriesPoint] = []
    for seq in groups.values():
        if len(seq) <= limit:
            out.extend(seq)
            continue
        keep = {len(seq) - 1}
        keep.update(i for i in range(len(seq) - 1) if seq[i].reset_at_ms != seq[i + 1].reset_at_ms)
        step = len(seq) / max(limit - len(keep), 1)
        keep.update(int(i * step) for i in range(max(limit - len(keep), 0)))
        out.extend(seq[i] for i in sorted(keep))
    out.sort(key=lambda p: (p.at_ms, p.request_id, p.window))
    return out


def windows_json(report: WindowsReport) -> dict[str, Any]:
    """``GET /api/windows``: per account its latest state, series and attribution."""
    series_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in report.series:
        series_by[p.account].append(
            {
                "window": p.window,
                "at_ms": p.at_ms,
                "utilization": p.utilization,
                "reset_at_ms": p.reset_at_ms,
                "status": p.status,
                "request_id": p.request_id,
            }
        )
    shares_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in report.attributions:
        shares_by[a.account].append(
            {
                "window": a.window,
                "reset_at_ms": a.reset_at_ms,
                "session_id": a.session_id,
                "client_key_id": a.client_key_id,
                "utilization": round(a.utilization, 6),
                "requests": a.requests,
            }
        )
    by_window = {(f.account, f.window): f for f in report.forecasts}
    return {
        "now_ms": report.now_ms,
        "accounts": [
            {
                "account": acct.account,
                "source": acct.source,
                "at_ms": acct.at_ms,
                "request_id": acct.request_id,
                "status": acct.status,
                "representative_claim": acct.representative_claim,
                "fallback_percentage": acct.fallback_percentage,
                "overage_status": acct.overage_status,
                "windows": [
                    _window_json(w, report.now_ms, by_window.get((acct.account, w.name)))
                    for w in acct.windows
                ],
                "api_limits": [_limit_json(lim) for lim in acct.api_limits],
                "retry_after_s": acct.retry_after_s,
                "series": series_by.get(acct.account, []),
                "attribution": shares_by.get(acct.account, []),
            }
            for acct in report.accounts
        ],
    }


def forecast_json(f: WindowForecast | None, now_ms: int) -> dict[str, Any] | None:
    """A window's ``forecast`` object (docs/api.md): when it reaches 100 % at the current rate."""
    if f is None:
        return None
    return {
        "burn_per_hour": None if f.burn_per_hour is None else round(f.burn_per_hour, 6),
        "full_at_ms": f.full_at_ms,
        "full_in_s": None if f.full_at_ms is None else max(0, (f.full_at_ms - now_ms) // 1000),
        "is_full_before_reset": f.is_full_before_reset,
        "since_ms": f.since_ms,
        "reading_at_ms": f.at_ms,
    }


def _window_json(
    w: WindowState, now_ms: int, forecast: WindowForecast | None = None
) -> dict[str, Any]:
    return {
        "name": w.name,
        "source": w.source,
        "status": w.status,
        "utilization": w.utilization,
        "reset_at_ms": w.reset_at_ms,
        "resets_in_s": None if w.reset_at_ms is None else max(0, (w.reset_at_ms - now_ms) // 1000),
        "is_expired": w.is_expired(now_ms),
        "is_binding": w.is_binding,
        "at_ms": w.at_ms,
        "requests": w.requests,
        "tokens": w.tokens,
        "output_tokens": w.output_tokens,
        "cost_usd_micros": w.cost_usd_micros,
        "unpriced_requests": w.unpriced_requests,
        "forecast": forecast_json(
            forecast if w.source == "headers" and not w.is_expired(now_ms) else None, now_ms
        ),
    }


def _limit_json(lim: ApiLimit) -> dict[str, Any]:
    return {
        "name": lim.name,
        "limit": lim.limit,
        "remaining": lim.remaining,
        "reset_at_ms": lim.reset_at_ms,
        "utilization": lim.utilization,
    }
