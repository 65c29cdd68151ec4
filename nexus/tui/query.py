"""The filter bar's language: ``model:opus status:5xx class:turn q:"migration"`` ⇄ a filter.

Pure functions, no Textual. Words without a key are full-text search terms; values with spaces are
quoted. Keys and checks mirror the read API's query parameters, so a filter the bar accepts is one
the server accepts, and a mistake is reported here, naming the key, before any call is made. This
module also decides whether a live row matches a filter (``matches``), since the live feed is not
filtered by the server.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from nexus.records import RequestFilter, RequestSummary, TrafficClass, is_error, now_ms

_STATUS = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|error)$")
_AGE = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

# bar key → RequestFilter field
KEYS: dict[str, str] = {
    "model": "model",
    "status": "status",
    "class": "traffic_class",
    "host": "host",
    "account": "account_id",
    "session": "session_id",
    "conv": "conversation_id",
    "conversation": "conversation_id",
    "since": "since_ms",
    "until": "until_ms",
    "q": "text",
}
_FIELD_KEY = {
    "model": "model",
    "status": "status",
    "traffic_class": "class",
    "host": "host",
    "account_id": "account",
    "session_id": "session",
    "conversation_id": "conv",
    "text": "q",
}
_EXAMPLES = {
    "model": "model:opus",
    "status": "status:5xx",
    "traffic_class": "class:turn",
    "host": "host:",
    "account_id": "account:",
    "session_id": "session:",
    "conversation_id": "conv:",
    "since_ms": "since:2h",
    "text": 'q:"text"',
}


def help_text(unsupported: Mapping[str, str] | None = None) -> str:
    """The bar's help line: an example of each key the view honours."""
    return " ".join(v for k, v in _EXAMPLES.items() if k not in (unsupported or {}))


HELP = help_text()


class QueryError(ValueError):
    """The filter text cannot be understood; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed filter: what the API is asked, plus the text the person typed."""

    filter: RequestFilter
    text: str

    @property
    def is_empty(self) -> bool:
        return self.filter == RequestFilter()


def parse_query(
    text: str, *, at_ms: int | None = None, unsupported: Mapping[str, str] | None = None
) -> Query:
    """Parse the filter bar's text. Raises ``QueryError`` naming the bad key or value, or a key
    whose ``RequestFilter`` field is in ``unsupported`` (field → why this view cannot honour it)."""
    limits = unsupported or {}
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"unbalanced quotes in {text!r}") from exc
    values: dict[str, object] = {}
    free: list[str] = []
    for word in words:
        key, sep, value = word.partition(":")
        if not sep or key.lower() not in KEYS:
            if sep and key and " " not in key and key.isidentifier():
                raise QueryError(f"unknown key {key!r}; keys: {', '.join(sorted(set(KEYS)))}")
            free.append(word)
            continue
        key = key.lower()
        if KEYS[key] in limits:
            raise QueryError(f"{key}: this view cannot filter by it: {limits[KEYS[key]]}")
        if not value:
            raise QueryError(f"{key}: needs a value")
        values[KEYS[key]] = _value(key, value, at_ms)
    if free:
        joined = " ".join(free)
        values["text"] = f"{values['text']} {joined}" if "text" in values else joined
    return Query(RequestFilter(**values), text.strip())  # type: ignore[arg-type]


def _value(key: str, value: str, at_ms: int | None) -> object:
    if key == "status":
        value = value.lower()
        if not _STATUS.match(value):
            raise QueryError("status: expected a code (200), a class (4xx, 5xx) or 'error'")
        return value
    if key == "class":
        value = value.lower()
        if value not in TrafficClass._value2member_map_:
            raise QueryError(f"class: expected one of {', '.join(c.value for c in TrafficClass)}")
        return value
    if key in ("since", "until"):
        return _time(key, value, at_ms)
    return value


def _time(key: str, value: str, at_ms: int | None) -> int:
    if value.isdigit():
        return int(value)
    age = _AGE.match(value)
    if not age:
        raise QueryError(f"{key}: expected an age like 15m, 2h, 7d or epoch milliseconds")
    return (now_ms() if at_ms is None else at_ms) - int(age[1]) * _UNIT_MS[age[2]]


def describe(flt: RequestFilter) -> str:
    """The bar text for a filter (times as epoch ms): the inverse of ``parse_query``."""
    parts: list[str] = []
    for f in fields(flt):
        value = getattr(flt, f.name)
        if value is None:
            continue
        key = _FIELD_KEY.get(f.name) or ("since" if f.name == "since_ms" else "until")
        text = str(value)
        parts.append(f"{key}:{shlex.quote(text) if ' ' in text or not text else text}")
    return " ".join(parts)


def with_conversation(flt: RequestFilter, conversation_id: str | None) -> RequestFilter:
    return replace(flt, conversation_id=conversation_id)


def matches(row: RequestSummary, flt: RequestFilter) -> bool:
    """Whether a live row belongs in a list filtered by ``flt``. Full-text search is approximated
    on the row's previews (the feed carries no bodies); the server's answer wins on reload."""
    if flt.since_ms is not None and row.started_at_ms < flt.since_ms:
        return False
    if flt.until_ms is not None and row.started_at_ms >= flt.until_ms:
        return False
    if flt.host is not None and row.host != flt.host:
        return False
    if flt.account_id is not None and row.account_id != flt.account_id:
        return False
    if flt.model is not None and flt.model.lower() not in (row.model or "").lower():
        return False
    if flt.status is not None and not _status_matches(row, flt.status):
        return False
    if flt.traffic_class is not None and row.traffic_class != flt.traffic_class:
        return False
    if flt.session_id is not None and row.session_id != flt.session_id:
        return False
    if flt.conversation_id is not None and row.conversation_id != flt.conversation_id:
        return False
    if flt.text is not None:
        haystack = f"{row.user_preview}\n{row.reply_preview}".lower()
        if not all(word in haystack for word in flt.text.lower().split()):
            return False
    return True


def _status_matches(row: RequestSummary, wanted: str) -> bool:
    status = row.status
    if wanted == "error":
        return is_error(status, row.outcome)
    if status is None:
        return False
    if wanted.endswith("xx"):
        return str(status)[0] == wanted[0]
    return str(status) == wanted
