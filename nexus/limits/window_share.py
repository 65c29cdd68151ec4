"""A person's share of the account's 5-hour window, for the ``window_share`` limit.

Anthropic tells each OAuth response how much of the account's 5-hour window is used
(``anthropic-ratelimit-unified-5h-utilization``, 0–1) and when it resets (``-5h-reset``). The proxy
keeps the latest reading per account (``WindowWatch.observe``: one header look-up per relayed
response). A person's share is the window's utilisation times their part of the account's cost
since the window began (hour counter rows of their client scope and of the account scope): with
the window 60 % used and alice behind half of the account's spend in it, alice has used 30 % of
the window. Readings from the responses of this replica only; every replica sees the same window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nexus.usage.ratelimit import parse_reset_ms

WINDOW_MS = 5 * 3_600_000
UTILIZATION = "anthropic-ratelimit-unified-5h-utilization"
RESET = "anthropic-ratelimit-unified-5h-reset"


@dataclass(frozen=True, slots=True)
class WindowReading:
    utilization: float  # 0..1
    reset_at_ms: int

    @property
    def start_ms(self) -> int:
        return self.reset_at_ms - WINDOW_MS


class WindowWatch:
    """The latest 5-hour window reading of each account."""

    def __init__(self) -> None:
        self._readings: dict[str, WindowReading] = {}

    def observe(self, account_id: str | None, headers: Mapping[str, str]) -> None:
        if account_id is None:
            return
        utilization = headers.get(UTILIZATION)
        if utilization is None:
            return
        try:
            value = max(0.0, min(1.0, float(utilization)))
        except ValueError:
            return
        reset_ms = parse_reset_ms(headers.get(RESET))
        if reset_ms is not None:
            self._readings[account_id] = WindowReading(value, reset_ms)

    def reading(self, account_id: str, at_ms: int) -> WindowReading | None:
        """The account's window now; None when unknown or already reset."""
        reading = self._readings.get(account_id)
        return reading if reading is not None and at_ms < reading.reset_at_ms else None


def person_share(reading: WindowReading, person_usd_micros: int, account_usd_micros: int) -> float:
    """The share of the window one person used: utilisation × their part of the account's cost."""
    if account_usd_micros <= 0:
        return 0.0
    return reading.utilization * min(1.0, person_usd_micros / account_usd_micros)
