"""Forecast arithmetic on constructed series: known rates give known times."""

from __future__ import annotations

import pytest

from nexus.usage.forecast import WindowForecast, default_lookback_ms, forecast_window
from nexus.usage.windows import SeriesPoint

H = 3_600_000
M = 60_000
T0 = 1_800_000_000_000  # an arbitrary instant, ms


def pt(
    at_ms: int, used: float | None, reset_ms: int | None = T0 + 5 * H, w: str = "5h"
) -> SeriesPoint:
    return SeriesPoint("acct", w, at_ms, f"r{at_ms}", used, reset_ms, "allowed")


def test_a_steady_rise_reaches_full_when_the_line_says() -> None:
    # 10 % per hour: readings every 10 minutes for two hours, 20 % → 40 %.
    series = [pt(T0 + i * 10 * M, 0.20 + i * (0.10 / 6)) for i in range(13)]
    f = forecast_window(series, now_ms=T0 + 2 * H)
    assert f is not None
    assert f.burn_per_hour == pytest.approx(0.10)
    assert f.utilization == pytest.approx(0.40)
    assert f.since_ms == T0 + 1 * H  # the baseline is the reading one lookback (1 h) old
    assert f.full_at_ms == pytest.approx(T0 + 2 * H + 6 * H, abs=1000)  # 60 % left at 10 %/h
    assert not f.is_full_before_reset  # the window resets at T0+5h, before it fills
    assert f.minutes_to_full(T0 + 2 * H) == pytest.approx(360, abs=0.1)


def test_a_fast_burn_runs_out_before_the_reset() -> None:
    series = [pt(T0, 0.50), pt(T0 + 30 * M, 0.70), pt(T0 + 60 * M, 0.90)]
    f = forecast_window(series, now_ms=T0 + 60 * M)
    assert f is not None
    assert f.burn_per_hour == pytest.approx(0.40)
    assert f.full_at_ms == pytest.approx(T0 + 60 * M + 15 * M, abs=1000)
    assert f.is_full_before_reset


def test_only_the_current_period_counts_after_a_reset() -> None:
    old = [pt(T0 - 2 * H, 0.95, reset_ms=T0), pt(T0 - H, 0.99, reset_ms=T0)]
    new_reset = T0 + 5 * H
    current = [pt(T0 + 30 * M, 0.05, new_reset), pt(T0 + 40 * M, 0.10, new_reset)]
    f = forecast_window(old + current, now_ms=T0 + 40 * M)
    assert f is not None
    # The new period started at T0 (reset - 5h) from 0: 10 % in 40 minutes.
    assert f.since_ms == T0
    assert f.burn_per_hour == pytest.approx(0.15)


def test_one_reading_in_a_young_period_measures_from_the_period_start() -> None:
    f = forecast_window([pt(T0 + 30 * M, 0.25)], now_ms=T0 + 30 * M)
    assert f is not None and f.burn_per_hour == pytest.approx(0.5)
    assert f.full_at_ms == pytest.approx(T0 + 30 * M + 90 * M, abs=1000)
    assert f.is_full_before_reset


def test_an_idle_account_is_not_rising() -> None:
    f = forecast_window([pt(T0, 0.3), pt(T0 + 10 * M, 0.4)], now_ms=T0 + 3 * H)
    assert f is not None and f.burn_per_hour == 0.0 and f.full_at_ms is None
    assert not f.is_full_before_reset


def test_a_fall_is_not_a_negative_burn_and_a_full_window_is_full_now() -> None:
    falling = forecast_window(
        [pt(T0, 0.5), pt(T0 + 30 * M, 0.4)], now_ms=T0 + 30 * M, lookback_ms=20 * M
    )
    assert falling is not None and falling.burn_per_hour == 0.0 and falling.full_at_ms is None
    full = forecast_window([pt(T0, 0.9), pt(T0 + 30 * M, 1.0)], now_ms=T0 + 30 * M)
    assert full is not None and full.full_at_ms == T0 + 30 * M


def test_too_short_a_span_gives_no_rate_and_no_reading_gives_no_forecast() -> None:
    unknown_length = [
        pt(T0, 0.1, w="custom", reset_ms=None),
        pt(T0 + 10_000, 0.2, w="custom", reset_ms=None),
    ]
    f = forecast_window(unknown_length, now_ms=T0 + 10_000)
    assert f is not None and f.burn_per_hour is None and f.full_at_ms is None
    assert forecast_window([pt(T0, None)], now_ms=T0) is None
    assert forecast_window([], now_ms=T0) is None


def test_the_default_lookback_is_a_fifth_of_the_window() -> None:
    assert default_lookback_ms("5h") == H
    assert default_lookback_ms("7d") == 7 * 24 * H // 5
    assert default_lookback_ms("weird") == H
    assert isinstance(forecast_window([pt(T0, 0.1)], T0), WindowForecast)
