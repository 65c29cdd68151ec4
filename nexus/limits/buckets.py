"""The fixed windows limits count in: minute, hour, day and calendar month, in UTC.

One place decides where a window starts and ends, so the recorder (which adds each stored call to
its windows' counter rows) and the proxy (which counts what it admits and names a refusal's reset
time) always agree. Fixed windows rather than sliding ones: a counter is then one row per scope and
window, and a refusal can say exactly when the window resets. The price, documented in
docs/limits.md: a client can spend a window's allowance at its end and the next one's at the start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Kind = Literal["minute", "hour", "day", "month"]
KINDS: tuple[Kind, ...] = ("minute", "hour", "day", "month")
_FIXED_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}


_current: dict[str, tuple[int, int]] = {}  # the last window asked for, per kind: nearly always hit


def bounds(kind: Kind, at_ms: int) -> tuple[int, int]:
    """(start_ms, end_ms) of the ``kind`` window holding ``at_ms``."""
    window = _current.get(kind)
    if window is not None and window[0] <= at_ms < window[1]:
        return window
    window = _bounds(kind, at_ms)
    _current[kind] = window
    return window


def _bounds(kind: Kind, at_ms: int) -> tuple[int, int]:
    if kind != "month":
        size = _FIXED_MS[kind]
        begin = at_ms - at_ms % size
        return begin, begin + size
    when = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else (start.replace(month=start.month + 1))
    )
    return int(start.timestamp() * 1000), int(following.timestamp() * 1000)


def iso(at_ms: int) -> str:
    """A reset time as people read it: ``2026-12-03T18:01:00Z``."""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
