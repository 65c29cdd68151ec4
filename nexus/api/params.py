"""Query-string parameters → typed values, with a 400 that names the bad parameter.

The list filters (``since``, ``until``, ``host``, ``account``, ``model``, ``status``, ``class``,
``session``, ``conversation_id``, ``q``) are shared by ``/api/requests`` and
``/api/conversations`` and map one to one onto ``RequestFilter``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from nexus.errors import ApiError
from nexus.records import RequestFilter, TrafficClass, now_ms

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_TEXT_CHARS = 500
_STATUS = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|error)$")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
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
    if value.isdigit():
        return int(value)
    age = _DURATION.match(value)
    if age:
        return (now_ms() if at_ms is None else at_ms) - int(age[1]) * _UNIT_MS[age[2]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadParameter(
            name, "expected epoch milliseconds, an ISO 8601 time or an age like 15m, 2h, 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    value = args.get("limit")
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadParameter("limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return int(value)


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
    value = value.strip()
    if not value.isdigit():
        raise BadParameter(name, "expected the id (a whole number) of an event already received")
    return int(value)
