"""Rate-limit windows per account: the server's own 5-hour and 7-day state, history, who used it.

This module owns turning recorded readings (one per response that carried rate-limit headers) and
recorded usage into:

- ``AccountWindows``: the latest state per account, as the server said it (``source="headers"``),
  or, for an account whose responses carry no subscription headers (API keys, pass-through),
  token and cost sums over rolling 5-hour and 7-day windows (``source="estimate"``);
- ``series``: per account and window, the utilization and reset over time;
- ``attribute_rises``: between two consecutive readings of one window, the rise in utilization is
  shared among the requests of that account that started in between, by cost (by tokens when any
  of them is unpriced), and summed per session and client key.

Pure functions over plain inputs: the store's rows (``Reading`` and ``Point``, declared in
``source.py``). It does not read headers itself (``ratelimit.py``) nor price anything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nexus.usage.ratelimit import ApiLimit, RateLimitSnapshot, parse_ratelimit
from nexus.usage.source import RateLimitRow, UsagePoint

__all__ = [
    "AccountWindows",
    "Attribution",
    "Point",
    "Reading",
    "SeriesPoint",
    "WindowState",
    "account_windows",
    "attribute_rises",
    "combine_windows",
    "estimate_windows",
    "headers_state",
    "latest_snapshots",
    "series",
]

ESTIMATE_WINDOWS: tuple[tuple[str, int], ...] = (("5h", 5 * 3600_000), ("7d", 7 * 86400_000))


# What the functions below read: the rows the store returns (``nexus.usage.source``).
Reading = RateLimitRow  # one response that carried rate-limit headers; ``at_ms``: when they came
Point = UsagePoint  # one request's usage; ``at_ms``: when it started


@dataclass(frozen=True, slots=True)
class WindowState:
    name: str  # "5h", "7d", "7d_opus", ...
    source: str  # "headers" | "estimate"
    status: str | None = None
    utilization: float | None = None  # 0..1 as the server reported; None for estimates
    reset_at_ms: int | None = None
    at_ms: int | None = None  # when the server said it (headers) / when the sums end (estimate)
    is_binding: bool = False  # the representative claim names this window
    requests: int = 0  # estimates: requests in the rolling window
    tokens: int = 0  # estimates: all tokens (input, cache writes and reads, output)
    output_tokens: int = 0
    cost_usd_micros: int = 0  # estimates: priced requests only
    unpriced_requests: int = 0

    def is_expired(self, now_ms: int) -> bool:
        """The reported window has reset since the server last said anything about it."""
        return self.reset_at_ms is not None and self.reset_at_ms <= now_ms


@dataclass(frozen=True, slots=True)
class AccountWindows:
    account: str
    source: str  # "headers" | "estimate"
    at_ms: int | None  # the reading the state comes from (None for pure estimates)
    request_id: str | None
    status: str | None = None
    representative_claim: str | None = None
    fallback_percentage: float | None = None
    overage_status: str | None = None
    windows: tuple[WindowState, ...] = ()
    api_limits: tuple[ApiLimit, ...] = ()
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    account: str
    window: str
    at_ms: int
    request_id: str
    utilization: float | None
    reset_at_ms: int | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Attribution:
    """How much of one window's utilization one session/client key caused, per window period."""

    account: str
    window: str
    reset_at_ms: int | None  # identifies the period (a window that resets starts a new one)
    session_id: str | None
    client_key_id: str | None
    utilization: float  # sum of attributed rises, 0..1 scale
    requests: int


# -- latest state --------------------------------------------------------------------------------


def latest_snapshots(readings: Iterable[Reading]) -> dict[str, tuple[Reading, RateLimitSnapshot]]:
    """Per account, the newest reading and what it said (readings in any order)."""
    latest: dict[str, Reading] = {}
    for reading in readings:
        held = latest.get(reading.account)
        if held is None or (reading.at_ms, reading.request_id) > (held.at_ms, held.request_id):
            latest[reading.account] = reading
    return {a: (r, parse_ratelimit(r.ratelimit)) for a, r in latest.items()}


def account_windows(
    readings: Iterable[Reading], points: Iterable[Point], now_ms: int
) -> list[AccountWindows]:
    """The current windows of every account seen in ``readings`` or ``points``.

    Accounts whose newest reading has subscription windows get them as the server said; the others
    get rolling-window estimates from ``points`` (plus any API-key limits their headers carried).
    """
    by_account: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        by_account[point.account].append(point)
    estimates = {a: estimate_windows(pts, now_ms) for a, pts in by_account.items()}
    return combine_windows(latest_snapshots(readings), estimates, now_ms)


def combine_windows(
    snapshots: Mapping[str, tuple[Reading, RateLimitSnapshot]],
    estimates: Mapping[str, tuple[WindowState, ...]],
    now_ms: int,
) -> list[AccountWindows]:
    """Per account: the server's windows when its newest reading has them, else ``estimates``
    (empty sums when there are none) with any API-key limits the reading carried."""
    out: dict[str, AccountWindows] = {}
    for account, (reading, snap) in snapshots.items():
        if snap.has_unified:
            out[account] = headers_state(account, reading, snap)
            continue
        out[account] = AccountWindows(
            account=account,
            source="estimate",
            at_ms=reading.at_ms,
            request_id=reading.request_id,
            windows=estimates.get(account) or estimate_windows((), now_ms),
            api_limits=snap.api_limits,
            retry_after_s=snap.retry_after_s,
        )
    for account, states in estimates.items():
        if account not in out:
            out[account] = AccountWindows(account, "estimate", None, None, windows=states)
    return [out[a] for a in sorted(out)]


def headers_state(account: str, reading: Reading, snap: RateLimitSnapshot) -> AccountWindows:
    """An account's windows exactly as one response's headers gave them."""
    binding = snap.binding_window
    return AccountWindows(
        account=account,
        source="headers",
        at_ms=reading.at_ms,
        request_id=reading.request_id,
        status=snap.status,
        representative_claim=snap.representative_claim,
        fallback_percentage=snap.fallback_percentage,
        overage_status=snap.overage_status,
        windows=tuple(
            WindowState(
                name=w.name,
                source="headers",
                status=w.status,
                utilization=w.utilization,
                reset_at_ms=w.reset_at_ms,
                at_ms=reading.at_ms,
                is_binding=w.name == binding,
            )
            for w in snap.windows
        ),
        api_limits=snap.api_limits,
        retry_after_s=snap.retry_after_s,
    )


def estimate_windows(points: Iterable[Point], now_ms: int) -> tuple[WindowState, ...]:
    """Token and cost sums over the rolling 5-hour and 7-day windows ending at ``now_ms``."""
    points = list(points)
    states = []
    for name, length_ms in ESTIMATE_WINDOWS:
        start = now_ms - length_ms
        inside = [p for p in points if start < p.at_ms <= now_ms]
        states.append(
            WindowState(
                name=name,
                source="estimate",
                at_ms=now_ms,
                requests=len(inside),
                tokens=sum(p.usage.total_tokens for p in inside),
                output_tokens=sum(p.usage.output_tokens for p in inside),
                cost_usd_micros=sum(p.cost_usd_micros or 0 for p in inside),
                unpriced_requests=sum(1 for p in inside if p.cost_usd_micros is None),
            )
        )
    return tuple(states)


# -- history -------------------------------------------------------------------------------------


def series(readings: Iterable[Reading]) -> list[SeriesPoint]:
    """Every subscription-window reading, oldest first (per account and window in that order)."""
    out = []
    for reading in sorted(readings, key=lambda r: (r.at_ms, r.request_id)):
        snap = parse_ratelimit(reading.ratelimit)
        for w in snap.windows:
            out.append(
                SeriesPoint(
                    reading.account,
                    w.name,
                    reading.at_ms,
                    reading.request_id,
                    w.utilization,
                    w.reset_at_ms,
                    w.status,
                )
            )
    return out


def attribute_rises(
    readings: Iterable[Reading],
    points: Iterable[Point],
    *,
    series_points: Sequence[SeriesPoint] | None = None,
) -> list[Attribution]:
    """Share each rise in a window's utilization among the requests that caused it.

    For consecutive readings a, b of one account's window (b later): the rise is
    ``b.utilization - a.utilization`` within one period (same reset time), or ``b.utilization``
    when the window reset in between (it started again from zero). It is shared among that account's
    requests that started in ``(a.at_ms, b.at_ms]`` by cost, or by tokens when one of them is
    unpriced; with none (a request from outside Nexus), the request that carried ``b`` takes it.
    A fall (the server's own accounting) attributes nothing. The first reading has no baseline.
    ``series_points`` is ``series(readings)`` when the caller already has it.
    """
    pts_by_account: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        pts_by_account[point.account].append(point)
    for plist in pts_by_account.values():
        plist.sort(key=lambda p: (p.at_ms, p.request_id))
    carriers: dict[str, Reading] = {}
    readings_by_window: dict[tuple[str, str], list[SeriesPoint]] = defaultdict(list)
    for reading in readings:
        carriers[reading.request_id] = reading
    if series_points is None:
        series_points = series(carriers.values())
    for sp in series_points:
        readings_by_window[(sp.account, sp.window)].append(sp)

    totals: dict[tuple[str, str, int | None, str | None, str | None], list[float]] = {}
    for (account, window), seq in readings_by_window.items():
        plist = pts_by_account.get(account, [])
        starts = [p.at_ms for p in plist]
        for prev, cur in zip(seq, seq[1:], strict=False):
            if cur.utilization is None:
                continue
            if prev.reset_at_ms == cur.reset_at_ms and prev.utilization is not None:
                rise = cur.utilization - prev.utilization
            else:
                rise = cur.utilization
            if rise <= 0:
                continue
            for (session, key), share, n in _shares(
                plist, starts, prev.at_ms, cur.at_ms, carriers[cur.request_id]
            ):
                slot = totals.setdefault((account, window, cur.reset_at_ms, session, key), [0.0, 0])
                slot[0] += rise * share
                slot[1] += n
    return [
        Attribution(account, window, reset, session, key, value, int(n))
        for (account, window, reset, session, key), (value, n) in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0, -item[1][0])
        )
    ]


def _shares(
    plist: Sequence[Point], starts: Sequence[int], after_ms: int, until_ms: int, carrier: Reading
) -> list[tuple[tuple[str | None, str | None], float, int]]:
    inside = plist[bisect_right(starts, after_ms) : bisect_right(starts, until_ms)]
    if not inside:
        return [((carrier.session_id, carrier.client_key_id), 1.0, 1)]
    if all(p.cost_usd_micros is not None for p in inside):
        weights = [float(p.cost_usd_micros or 0) for p in inside]
    else:
        weights = [float(p.usage.total_tokens) for p in inside]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(inside), float(len(inside))
    grouped: dict[tuple[str | None, str | None], list[float]] = {}
    for point, weight in zip(inside, weights, strict=False):
        slot = grouped.setdefault((point.session_id, point.client_key_id), [0.0, 0])
        slot[0] += weight / total
        slot[1] += 1
    return [(who, share, int(n)) for who, (share, n) in grouped.items()]
