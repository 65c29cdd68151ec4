"""The usage screen's gauges say when a window runs out at the current rate (``forecast`` of
``GET /api/windows``)."""

from __future__ import annotations

from typing import Any

from nexus.tui.screens.usage import gauge_line
from nexus.tui.usage_data import gauges


def _doc(forecast: dict[str, Any] | None, expired: bool = False) -> dict[str, Any]:
    window = {
        "name": "5h", "source": "headers", "status": "allowed", "utilization": 0.62,
        "resets_in_s": 9_600, "is_expired": expired, "is_binding": True, "forecast": forecast,
    }  # fmt: skip
    return {"accounts": [{"account": "team", "source": "headers", "windows": [window]}]}


def test_a_window_that_runs_out_before_its_reset_says_when() -> None:
    forecast = {"full_in_s": 4_380, "is_full_before_reset": True, "burn_per_hour": 0.31}
    [gauge] = gauges(_doc(forecast))
    assert gauge.full_in_s == 4_380 and gauge.is_full_before_reset
    line = gauge_line(gauge)
    assert "full in 1h13m at this rate" in line.plain
    assert any("red" in str(span.style) for span in line.spans)


def test_a_window_that_lasts_or_has_no_forecast_says_so_or_nothing() -> None:
    lasting = gauge_line(gauges(_doc({"full_in_s": 40_000, "is_full_before_reset": False}))[0])
    assert "lasts until the reset at this rate" in lasting.plain
    idle = gauge_line(gauges(_doc({"full_in_s": None, "is_full_before_reset": False}))[0])
    none = gauge_line(gauges(_doc(None))[0])
    assert "at this rate" not in idle.plain and "at this rate" not in none.plain
    expired = gauge_line(gauges(_doc({"full_in_s": 60, "is_full_before_reset": True}, True))[0])
    assert "at this rate" not in expired.plain
