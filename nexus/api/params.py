"""Query-string parameters → typed values, with a 400 that names the bad parameter.

The list filters (``since``, ``until``, ``host``, ``account``, ``model``, ``status``, ``class``,
``session``, ``conversation_id``, ``q``) are shared by ``/api/requests`` and
``/api/conversations`` and map one to one onto ``RequestFilter``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from nexus.errors import ApiError
from nexus.filters import MAX_INTEGER, FilterError, parse_class, parse_status
from nexus.filters import parse_time as parse_time_value
from nexus.records import RequestFilter

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_TEXT_CHARS = 500
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
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

    status = _checked("status", text("status"), parse_status)
    traffic_class = _checked("class", text("class"), _exact_class)
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


def _checked(name: str, value: str | None, parse: Any) -> str | None:
    try:
        return None if value is None else str(parse(value))
    except FilterError as exc:
        raise BadParameter(name, str(exc)) from None


def _exact_class(value: str) -> str:
    """A class as the store holds it: the API does not fold case (the TUI's bar does)."""
    if value != value.strip().lower():
        parse_class("")  # raises, listing the classes
    return parse_class(value)


def parse_time(args: Mapping[str, str], name: str, at_ms: int | None = None) -> int | None:
    """Epoch ms, an ISO 8601 time (naive means UTC), or an age (``15m``, ``2h``, ``7d``)."""
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_time_value(value, at_ms=at_ms, naive="utc")
    except FilterError as exc:
        raise BadParameter(name, str(exc)) from None


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
