"""What the usage reports read from a store: its rows of rate-limit readings and usage points, and
the four reads that return them (``UsageSource``).

Declared here, where they are read, because this layer may not import the store: the store's
``UsageStore`` protocol (``nexus.store.base``) is this one plus re-pricing, and ``nexus.store.usage``
implements it. ``windows.py`` reads these rows (as ``Reading`` and ``Point``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nexus.records import Headers, RequestFilter, Usage, UsageRow

__all__ = ["RateLimitRow", "UsagePoint", "UsageSource"]


@dataclass(frozen=True, slots=True)
class RateLimitRow:
    """A request whose response carried rate-limit headers."""

    request_id: str
    at_ms: int  # first byte (when the headers arrived), else start
    account: str  # as in USAGE_GROUPS
    client_key_id: str | None
    session_id: str | None
    ratelimit: Headers


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """A request's usage, small."""

    request_id: str
    at_ms: int  # start
    account: str
    client_key_id: str | None
    session_id: str | None
    model: str | None
    usage: Usage
    cost_usd_micros: int | None


class UsageSource(Protocol):
    async def usage_report(
        self,
        flt: RequestFilter,
        group_by: Sequence[str] = (),
        bucket: str | None = None,
        *,
        utc_offset_ms: int = 0,
    ) -> list[UsageRow]:
        """Totals per group (``USAGE_GROUPS``; ``bucket`` "day"/"hour" adds a time dimension),
        largest cost first (time buckets: oldest first). Raises ``ApiError`` on an unknown group."""

    async def usage_readings(
        self,
        since_ms: int,
        until_ms: int | None = None,
        account: str | None = None,
        limit: int = 20_000,
    ) -> list[RateLimitRow]:
        """Requests with rate-limit headers in ``[since, until)``, oldest first; the newest
        ``limit`` when there are more."""

    async def usage_latest_readings(self, since_ms: int) -> list[RateLimitRow]:
        """Per account, its newest request with rate-limit headers since ``since_ms``."""

    async def usage_points(
        self, since_ms: int, until_ms: int | None = None, account: str | None = None
    ) -> list[UsagePoint]:
        """Requests started in ``[since, until)``, oldest first."""
