"""Query-string parameters → typed values, with a 400 that names the bad parameter.

The list filters (``since``, ``until``, ``host``, ``account``, ``model``, ``status``, ``class``,
``session``, ``conversation_id``, ``q``) are shared by ``/api/requests`` and
``/api/conversations`` and map one to one onto ``RequestFilter``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from nexus.errors import ApiError
from nexus.records import RequestFilter, TrafficClass, now_ms

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_TEXT_CHARS = 500
MAX_INTEGER = 2**62
"""Bigger numbers than any time, id or count Nexus stores: refused before they reach SQL."""
_STATUS = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|error)$")
_DURATION = re.compile(r"^([0-9]{1,15})(ms|s|m|h|d|w)$")  # ASCII digits: '²'.isdigit() is True
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
FILTER_PARAMS = (
    "since",
    "until",
    "host",
    "account",
    "model",
    "status",
    "class",
    "session",
    "conversation_id",
    "q",
)


class BadParameter(ApiError):
    """A query parameter is invalid."""

    error_type = "invalid_request_error"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"invalid parameter {parameter!r}: {message}", status=400)
        self.parameter = parameter


def check_text(values: Iterable[tuple[str, Any]]) -> None:
    """Refuse a NUL or other control character in any parameter or path id: Postgres cannot store
    or compare a NUL, and no name, id or search Nexus holds contains one."""
    for name, value in values:
        if isinstance(value, str) and _CONTROL.search(value):
            raise BadParameter(name, "holds a NUL or another control character")


def whole_number(value: str, name: str, what: str) -> int:
    """``value`` as a non-negative integer of ASCII digits below ``MAX_INTEGER``."""
    if not _DIGITS.match(value) or int(value) >= MAX_INTEGER:
        raise BadParameter(name, what)
    return int(value)


def parse_filter(args: Mapping[str, str], *, at_ms: int | None = None) -> RequestFilter:
    def text(name: str, max_chars: int = 200) -> str | None:
        value = args.get(name)
        if value is None or value == "":
            return None
        if len(value) > max_chars:
            raise BadParameter(name, f"longer than {max_chars} characters")
        return value

    status = text("status")
    if status is not None:
        status = status.lower()
        if not _STATUS.match(status):
            raise BadParameter("status", "expected a code (200), a class (4xx, 5xx) or 'error'")
    traffic_class = text("class")
    if traffic_class is not None and traffic_class not in TrafficClass._value2member_map_:
        allowed = ", ".join(c.value for c in TrafficClass)
        raise BadParameter("class", f"expected one of {allowed}")
    q = text("q", MAX_TEXT_CHARS)
    if q is not None:
        q = " ".join(q.split()) or None  # search matches words; spacing carries no meaning
    return RequestFilter(
        since_ms=parse_time(args, "since", at_ms),
        until_ms=parse_time(args, "until", at_ms),
        host=text("host"),
        account_id=text("account"),
        model=text("model"),
        status=status,
        traffic_class=traffic_class,
        session_id=text("session"),
        conversation_id=text("conversation_id"),
        text=q,
    )


def parse_time(args: Mapping[str, str], name: str, at_ms: int | None = None) -> int | None:
    """Epoch ms, an ISO 8601 time (naive means UTC), or an age (``15m``, ``2h``, ``7d``)."""
    value = args.get(name)
    if value is None or value == "":
        return None
    value = value.strip()
    expected = "expected epoch milliseconds, an ISO 8601 time or an age like 15m, 2h, 7d"
    if value.isdigit():
        return whole_number(value, name, expected)
    age = _DURATION.match(value)
    if age and int(age[1]) * _UNIT_MS[age[2]] < MAX_INTEGER // 2:
        return (now_ms() if at_ms is None else at_ms) - int(age[1]) * _UNIT_MS[age[2]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise BadParameter(name, expected) from None


def parse_limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    value = args.get("limit")
    if value is None or value == "":
        return default
    expected = f"expected a whole number from 1 to {MAX_LIMIT}"
    limit = whole_number(value, "limit", expected)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameter("limit", expected)
    return limit


def parse_cursor(args: Mapping[str, str]) -> str | None:
    value = args.get("cursor")
    if value is None or value == "":
        return None
    if len(value) > 512:
        raise BadParameter("cursor", "not a cursor this server issued")
    return value


def parse_seq(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    expected = "expected the id (a whole number) of an event already received"
    return whole_number(value.strip(), name, expected)
