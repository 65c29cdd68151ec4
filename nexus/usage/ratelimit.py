"""Reading Anthropic's rate-limit headers: what one response said about its account's limits.

This module owns the header vocabulary and nothing else (no history, no store). Two families:

- Subscription (OAuth) traffic: ``anthropic-ratelimit-unified-status``, ``-reset``,
  ``-representative-claim`` (which window binds, e.g. ``five_hour``), ``-fallback-percentage``,
  ``-overage-status``/``-overage-reset``, and per window (``5h``, ``7d``, and any other such as
  ``7d_opus``) ``-<w>-status``, ``-<w>-utilization`` (0–1), ``-<w>-reset`` (unix seconds).
- API keys: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,
  reset}`` (reset as RFC 3339) and ``retry-after`` (seconds or an HTTP date).

Unknown headers of either family are kept (``extra``) so a new API version loses nothing.
Parsing never raises: a value that does not parse is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

from nexus.records import Headers

__all__ = [
    "ApiLimit",
    "RateLimitSnapshot",
    "WindowReading",
    "parse_ratelimit",
    "parse_reset_ms",
    "window_seconds",
]

UNIFIED = "anthropic-ratelimit-unified-"
API = "anthropic-ratelimit-"
_WINDOW_FIELD = re.compile(r"^(\d+[a-z][a-z0-9_]*)-(status|utilization|reset|surpassed-threshold)$")
_API_FIELD = re.compile(r"^([a-z-]+?)-(limit|remaining|reset)$")
_CLAIM_WINDOWS = {"five_hour": "5h", "seven_day": "7d"}  # representative-claim → window name


@dataclass(frozen=True, slots=True)
class WindowReading:
    """One subscription window as one response reported it."""

    name: str  # "5h", "7d", "7d_opus", ...
    status: str | None = None  # allowed | allowed_warning | rejected
    utilization: float | None = None  # 0..1, as sent
    reset_at_ms: int | None = None
    surpassed_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class ApiLimit:
    """One API-key limit (requests or tokens per minute) as one response reported it."""

    name: str  # "requests", "tokens", "input-tokens", "output-tokens", ...
    limit: int | None = None
    remaining: int | None = None
    reset_at_ms: int | None = None

    @property
    def utilization(self) -> float | None:
        if not self.limit or self.remaining is None:
            return None
        return max(0.0, min(1.0, 1.0 - self.remaining / self.limit))


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """Everything one response's headers said about its account's limits."""

    status: str | None = None  # unified status
    reset_at_ms: int | None = None  # unified reset (the binding window's)
    representative_claim: str | None = None  # five_hour | seven_day | ...
    fallback_percentage: float | None = None
    overage_status: str | None = None
    overage_reset_at_ms: int | None = None
    windows: tuple[WindowReading, ...] = ()
    api_limits: tuple[ApiLimit, ...] = ()
    retry_after_s: float | None = None
    extra: Headers = ()  # rate-limit headers this version does not know

    @property
    def is_empty(self) -> bool:
        return not (self.has_unified or self.api_limits or self.retry_after_s is not None)

    @property
    def has_unified(self) -> bool:
        return bool(self.windows) or self.status is not None

    @property
    def binding_window(self) -> str | None:
        """The window name the representative claim refers to (``five_hour`` → ``5h``)."""
        claim = self.representative_claim
        if claim is None:
            return None
        return _CLAIM_WINDOWS.get(claim, claim)

    def window(self, name: str) -> WindowReading | None:
        for reading in self.windows:
            if reading.name == name:
                return reading
        return None


def parse_ratelimit(headers: Headers) -> RateLimitSnapshot:
    """The rate-limit state in ``headers`` (names in any case; other headers are ignored)."""
    unified: dict[str, str] = {}
    windows: dict[str, dict[str, str]] = {}
    limits: dict[str, dict[str, str]] = {}
    extra: list[tuple[str, str]] = []
    retry_after: float | None = None
    for raw_name, value in headers:
        name = raw_name.lower()
        value = value.strip()
        known = _KNOWN.get(name)
        if known is not None:  # the common names, without a regex
            kind, key, field_name = known
            if kind == "window":
                windows.setdefault(key, {})[field_name] = value
            else:
                unified[field_name] = value
            continue
        name = name.strip()
        if name == "retry-after":
            retry_after = _retry_after_s(value)
        elif name.startswith(UNIFIED):
            rest = name[len(UNIFIED) :]
            found = _WINDOW_FIELD.match(rest)
            if found:
                windows.setdefault(found.group(1), {})[found.group(2)] = value
            elif rest in _UNIFIED_FIELDS:
                unified[rest] = value
            else:
                extra.append((name, value))
        elif name.startswith(API):
            found = _API_FIELD.match(name[len(API) :])
            if found:
                limits.setdefault(found.group(1), {})[found.group(2)] = value
            else:
                extra.append((name, value))
    return RateLimitSnapshot(
        status=unified.get("status") or None,
        reset_at_ms=parse_reset_ms(unified.get("reset")),
        representative_claim=unified.get("representative-claim") or None,
        fallback_percentage=_float(unified.get("fallback-percentage")),
        overage_status=unified.get("overage-status") or None,
        overage_reset_at_ms=parse_reset_ms(unified.get("overage-reset")),
        windows=tuple(
            WindowReading(
                name=w,
                status=fields.get("status") or None,
                utilization=_float(fields.get("utilization")),
                reset_at_ms=parse_reset_ms(fields.get("reset")),
                surpassed_threshold=_float(fields.get("surpassed-threshold")),
            )
            for w, fields in (
                sorted(windows.items(), key=lambda item: _window_order(item[0]))
                if len(windows) > 1
                else windows.items()
            )
        ),
        api_limits=tuple(
            ApiLimit(
                name=kind,
                limit=_int(fields.get("limit")),
                remaining=_int(fields.get("remaining")),
                reset_at_ms=parse_reset_ms(fields.get("reset")),
            )
            for kind, fields in sorted(limits.items())
        ),
        retry_after_s=retry_after,
        extra=tuple(extra),
    )


_UNIFIED_FIELDS = frozenset(
    {
        "status",
        "reset",
        "representative-claim",
        "fallback-percentage",
        "overage-status",
        "overage-reset",
    }
)


_WINDOW_FIELDS = ("status", "utilization", "reset", "surpassed-threshold")
_KNOWN: dict[str, tuple[str, str, str]] = {
    **{
        f"{UNIFIED}{w}-{f}": ("window", w, f)
        for w in ("5h", "7d", "7d_opus", "7d_sonnet")
        for f in _WINDOW_FIELDS
    },
    **{f"{UNIFIED}{f}": ("unified", "", f) for f in _UNIFIED_FIELDS},
}


def window_seconds(name: str) -> int | None:
    """The length of a window named like ``5h`` or ``7d_opus``; None for other names."""
    found = re.match(r"^(\d+)([mhd])", name)
    if not found:
        return None
    return int(found.group(1)) * {"m": 60, "h": 3600, "d": 86400}[found.group(2)]


@lru_cache(maxsize=256)
def _window_order(name: str) -> tuple[int, str]:
    return (window_seconds(name) or 1 << 40, name)


def parse_reset_ms(value: str | None) -> int | None:
    """A reset instant as epoch ms from unix seconds, epoch ms, or an RFC 3339 / HTTP date."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number != number or number <= 0:  # NaN, zero, negative
            return None
        return int(number) if number > 1e11 else int(number * 1000)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _retry_after_s(value: str) -> float | None:
    number = _float(value)
    if number is not None:
        return max(number, 0.0)
    return None  # an HTTP-date retry-after needs the response time; kept in the raw headers


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number else None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)
