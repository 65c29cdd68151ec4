"""When a rate-limit window reaches 100 % at the current burn rate.

Owns the forecast arithmetic and nothing else: given one account's readings of one window (the
``SeriesPoint`` rows ``windows.series`` makes from recorded headers), the burn rate is the rise in
utilization per hour from a baseline to the newest reading, within the window's current period
(same reset time). The baseline is the newest reading at least ``lookback`` old (default a fifth of
the window: 1 hour of a 5-hour window); when the period is younger than that, its start
(``reset - window length``, where utilization was 0); else the period's oldest reading. An account
with no reading within the lookback is idle: its burn rate is 0. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from nexus.records import WindowForecast
from nexus.usage.ratelimit import window_seconds
from nexus.usage.windows import SeriesPoint

__all__ = ["WindowForecast", "default_lookback_ms", "forecast_window"]

HOUR_MS = 3_600_000
MIN_SPAN_MS = 60_000  # a rise over less than a minute says little about an hour
DEFAULT_LOOKBACK_MS = HOUR_MS


def default_lookback_ms(window: str) -> int:
    seconds = window_seconds(window)
    return DEFAULT_LOOKBACK_MS if seconds is None else max(15 * 60_000, seconds * 1000 // 5)


def forecast_window(
    points: Sequence[SeriesPoint], now_ms: int, lookback_ms: int | None = None
) -> WindowForecast | None:
    """The forecast of one account's window from its readings (any order); None without one."""
    readings = sorted((p for p in points if p.utilization is not None), key=lambda p: p.at_ms)
    if not readings:
        return None
    latest = readings[-1]
    used = float(latest.utilization or 0.0)
    lookback = default_lookback_ms(latest.window) if lookback_ms is None else lookback_ms
    start_ms = now_ms - lookback

    def result(burn: float | None, since: int | None) -> WindowForecast:
        full_at: int | None = None
        if used >= 1.0:
            full_at = latest.at_ms
        elif burn is not None and burn > 0:
            full_at = latest.at_ms + int((1.0 - used) / burn * HOUR_MS)
        return WindowForecast(
            latest.account, latest.window, used, latest.at_ms, latest.reset_at_ms,
            burn, full_at, since,
        )  # fmt: skip

    if latest.at_ms < start_ms:
        return result(0.0, None)  # nothing within the lookback: idle
    period = [p for p in readings if p.reset_at_ms == latest.reset_at_ms]
    older = [p for p in period if p.at_ms <= start_ms]
    length_s = window_seconds(latest.window)
    period_start = (
        latest.reset_at_ms - length_s * 1000
        if latest.reset_at_ms is not None and length_s is not None
        else None
    )
    if older:
        base_ms, base_used = older[-1].at_ms, float(older[-1].utilization or 0.0)
    elif period_start is not None and period_start <= latest.at_ms:
        base_ms, base_used = period_start, 0.0
    else:
        base_ms, base_used = period[0].at_ms, float(period[0].utilization or 0.0)
    span = latest.at_ms - base_ms
    if span < MIN_SPAN_MS:
        return result(None, base_ms)
    return result(max(0.0, (used - base_used) / span * HOUR_MS), base_ms)
