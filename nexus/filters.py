"""The one filter: parsing what people and clients type (ages, times, statuses, classes and the
filter language ``model:opus status:5xx q:"migration"``), the SQL a filter means (written once; the
few words SQLite and Postgres write differently are asked of the store's dialect), and whether one row passes it (``row_matches``, for live views the server does not
filter). The sole owner of what a ``RequestFilter`` means: the store's lists, the API's query
parameters, the CLI's ``--since``/``--until`` and the TUI's filter bar all come here.

Pure: imports nothing but ``nexus.records``, so the TUI may use it without the store's drivers.
Values are always bound as ``:name`` parameters, never formatted into SQL.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from nexus.errors import ApiError
from nexus.records import RequestFilter, RequestSummary, TrafficClass, is_error, now_ms

MAX_INTEGER = 2**62
"""Bigger than any time, id or count Nexus stores: refused before it reaches SQL."""
_AGE = re.compile(r"^([0-9]{1,15}(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)$")  # ASCII: '²'.isdigit()
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_STATUS = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|error)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_WORD = re.compile(r"\w+")
AGE_HELP = "an age like 15m, 2h, 7d"
TIME_HELP = f"epoch milliseconds, an ISO 8601 time or {AGE_HELP}"
STATUS_HELP = "a code (200), a class (4xx, 5xx) or 'error'"


class FilterError(ValueError):
    """A value cannot be understood; the message says what was expected (callers name the key)."""


# -- values -----------------------------------------------------------------------------------
def parse_age(text: str) -> int:
    """``15m``, ``2h``, ``1.5d``, ``500ms`` → milliseconds."""
    match = _AGE.match(text.strip())
    if not match or float(match[1]) * _UNIT_MS[match[2]] >= MAX_INTEGER // 2:
        raise FilterError(f"expected {AGE_HELP}")
    return int(float(match[1]) * _UNIT_MS[match[2]])


def parse_time(
    text: str, *, at_ms: int | None = None, naive: Literal["utc", "local"] = "utc"
) -> int:
    """Epoch ms from epoch ms, an age (that long before ``at_ms``, default now) or an ISO 8601
    time; an ISO time without a zone is taken as ``naive`` (a person typing means their clock)."""
    value = text.strip()
    if _DIGITS.match(value):
        if int(value) >= MAX_INTEGER:
            raise FilterError(f"expected {TIME_HELP}")
        return int(value)
    if _AGE.match(value):
        return (now_ms() if at_ms is None else at_ms) - parse_age(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC) if naive == "utc" else moment.astimezone()
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise FilterError(f"expected {TIME_HELP}") from None


def parse_status(text: str) -> str:
    status = text.strip().lower()
    if not _STATUS.match(status):
        raise FilterError(f"expected {STATUS_HELP}")
    return status


def parse_class(text: str) -> str:
    value = text.strip().lower()
    if value not in TrafficClass._value2member_map_:
        raise FilterError(f"expected one of {', '.join(c.value for c in TrafficClass)}")
    return value


def contains(text: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern matching ``text`` anywhere, its own ``%`` and ``_`` taken
    literally (``model=%`` must not match every row)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- the filter language ------------------------------------------------------------------------
KEYS: dict[str, str] = {  # word before the colon → RequestFilter field
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
_FIELD_KEY = {"traffic_class": "class", "account_id": "account", "session_id": "session",
              "conversation_id": "conv", "text": "q", "since_ms": "since", "until_ms": "until"}  # fmt: skip


class QueryError(FilterError):
    """The filter text cannot be understood; the message names the part and why."""


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
    """Parse ``key:value`` words (values with spaces quoted); words without a key are full-text
    search. Raises ``QueryError`` naming the bad key or value, or a key whose field is in
    ``unsupported`` (field → why this view cannot honour it)."""
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
        try:
            values[KEYS[key]] = _PARSERS[key](value, at_ms) if key in _PARSERS else value
        except FilterError as exc:
            raise QueryError(f"{key}: {exc}") from None
    if free:
        joined = " ".join(free)
        values["text"] = f"{values['text']} {joined}" if "text" in values else joined
    return Query(RequestFilter(**values), text.strip())  # type: ignore[arg-type]


def _bar_time(value: str, at_ms: int | None) -> int:
    return parse_time(value, at_ms=at_ms, naive="local")


_PARSERS: dict[str, Callable[[str, int | None], object]] = {
    "status": lambda value, _: parse_status(value),
    "class": lambda value, _: parse_class(value),
    "since": _bar_time,
    "until": _bar_time,
}


def describe(flt: RequestFilter) -> str:
    """The filter language's text for a filter (times as epoch ms): the inverse of ``parse_query``."""
    parts: list[str] = []
    for f in fields(flt):
        value = getattr(flt, f.name)
        if value is None:
            continue
        text = str(value)
        quoted = shlex.quote(text) if " " in text or not text else text
        parts.append(f"{_FIELD_KEY.get(f.name, f.name)}:{quoted}")
    return " ".join(parts)


# -- one row ------------------------------------------------------------------------------------
def row_matches(row: RequestSummary, flt: RequestFilter) -> bool:
    """Whether a request belongs in a list filtered by ``flt``, as the store decides it. Text is
    matched on the row's previews word by word (the row carries no bodies; the store's index
    holds the whole text), so for text the server's answer wins on reload."""
    if flt.since_ms is not None and row.started_at_ms < flt.since_ms:
        return False
    if flt.until_ms is not None and row.started_at_ms >= flt.until_ms:
        return False
    for field, value in (("host", row.host), ("account_id", row.account_id),
                         ("traffic_class", row.traffic_class), ("session_id", row.session_id),
                         ("conversation_id", row.conversation_id)):  # fmt: skip
        wanted = getattr(flt, field)
        if wanted is not None and value != wanted:
            return False
    if flt.model is not None and flt.model.lower() not in (row.model or "").lower():
        return False
    if flt.status is not None and not _status_matches(row, flt.status):
        return False
    if flt.text is not None:
        words = set(_WORD.findall(f"{row.user_preview or ''}\n{row.reply_preview or ''}".lower()))
        if not all(word in words for word in _WORD.findall(flt.text.lower())):
            return False
    return True


def _status_matches(row: RequestSummary, wanted: str) -> bool:
    wanted = wanted.strip().lower()
    if wanted == "error":
        return is_error(row.status, row.outcome)
    if row.status is None:
        return False
    if wanted.endswith("xx"):
        low = int(wanted[0]) * 100
        return low <= row.status < low + 100
    return row.status == int(wanted)


# -- SQL ----------------------------------------------------------------------------------------
class SqlDialect(Protocol):
    """What a filter's SQL asks of the database's dialect (``nexus.store.dialect.Dialect``, which
    owns what SQLite and Postgres write differently)."""

    @property
    def like(self) -> str: ...

    def json_int(self, column: str, key: str) -> str: ...


def request_where(
    flt: RequestFilter, dialect: SqlDialect, *, search_match: str, cursor: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause over ``requests r LEFT JOIN links l`` and its values. ``search_match`` is
    the search index's fragment over ``r.id`` with ``:text`` (the store's, per dialect)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if cursor:
        _add(clauses, params, "r.id < :cursor", cursor=cursor)
    _add_fields(clauses, params, flt, _REQUEST_COLUMNS, dialect.like)
    if flt.traffic_class:
        _add(clauses, params, "l.traffic_class = :traffic_class", traffic_class=flt.traffic_class)
    if flt.status:
        _add_status(flt.status, lambda clause, **values: _add(clauses, params, clause, **values))
    if flt.text:
        _add(clauses, params, search_match, text=flt.text)
    return _where(clauses), params


def _add_status(status: str, add: Callable[..., None]) -> None:
    try:
        status = parse_status(status)
    except FilterError as exc:  # a filter built past the API's checks
        raise ApiError(f"status {status!r}: {exc}") from None
    if status == "error":
        # The same rule as nexus.records.is_error: no answer, an error status, or an answer that
        # broke off or ended in an error event.
        add("(r.status IS NULL OR r.status >= 400 "
            "OR r.outcome NOT IN ('complete', 'client_disconnected'))")  # fmt: skip
    elif status.endswith("xx"):
        low = int(status[0]) * 100
        add(
            "r.status >= :status_from AND r.status < :status_to",
            status_from=low,
            status_to=low + 100,
        )
    else:
        add("r.status = :status", status=int(status))


def conversation_where(
    flt: RequestFilter,
    dialect: SqlDialect,
    *,
    search_match: str,
    cursor: str | None = None,
    few_matches: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause over ``conversations c``: since/until (last activity), host, account, model
    (any model used), session, id, traffic class (has one), text (title, last prompt, or any of its
    requests' text through the search index). ``cursor``: ``"<last_at_ms>:<id>"``. ``few_matches``:
    the search index matches few requests, so the text reads their conversations rather than walk
    every conversation's requests."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    like = dialect.like
    if cursor:
        at, _, last_id = cursor.partition(":")
        clauses.append("(c.last_at_ms, c.id) < (:cursor_ms, :cursor_id)")
        params.update(cursor_ms=int(at), cursor_id=last_id)
    _add_fields(clauses, params, flt, _CONVERSATION_COLUMNS, like)
    if flt.traffic_class:
        clauses.append(f"coalesce({dialect.json_int('c.class_counts', ':traffic_class')}, 0) > 0")
        params["traffic_class"] = flt.traffic_class
    if flt.text:
        # Few matches (the store counts them): their conversations, read once (a rare word: 6 ms,
        # not 34 ms, at 98 500 requests). Many: EXISTS walks conversations newest first and stops at the page's end (a
        # common word: 12 ms, not 54 ms, at 20 000 requests); its subquery names its request id
        # r.id, as the search index's fragment expects.
        in_requests = (
            f"c.id IN (SELECT n.conversation_id FROM requests r JOIN link_nodes n "
            f"ON n.request_id = r.id WHERE {search_match})"
            if few_matches
            else "EXISTS (SELECT 1 FROM (SELECT n.request_id AS id FROM link_nodes n "
            f"WHERE n.conversation_id = c.id) r WHERE {search_match})"
        )
        clauses.append(
            f"(c.title {like} :text_like ESCAPE '\\' OR c.last_user_preview {like} :text_like "
            f"ESCAPE '\\' OR {in_requests})"
        )
        params.update(text=flt.text, text_like=contains(flt.text))
    return _where(clauses), params


@dataclass(frozen=True)
class _Columns:
    """The column each plain filter field is compared with, in one table's WHERE: the one place
    that says since is inclusive, until exclusive, model a case-blind substring and the rest
    equal."""

    since: str
    until: str
    host: str
    account_id: str
    session_id: str
    conversation_id: str
    model: str


# A request's own time; a conversation is in range if it was active after since and began before
# until.
_REQUEST_COLUMNS = _Columns(
    "r.started_at_ms", "r.started_at_ms", "r.host", "r.account_id", "r.session_id",
    "l.conversation_id", "r.model",
)  # fmt: skip
_CONVERSATION_COLUMNS = _Columns(
    "c.last_at_ms", "c.started_at_ms", "c.host", "c.account_id", "c.session_id", "c.id", "c.models"
)  # fmt: skip


def _add_fields(
    clauses: list[str], params: dict[str, Any], flt: RequestFilter, cols: _Columns, like: str
) -> None:
    _add_present(clauses, params, (
        (f"{cols.since} >= :since_ms", "since_ms", flt.since_ms),
        (f"{cols.until} < :until_ms", "until_ms", flt.until_ms),
        (f"{cols.host} = :host", "host", flt.host),
        (f"{cols.account_id} = :account_id", "account_id", flt.account_id),
        (f"{cols.session_id} = :session_id", "session_id", flt.session_id),
        (f"{cols.conversation_id} = :conversation_id", "conversation_id", flt.conversation_id),
    ))  # fmt: skip
    if flt.model:
        _add(clauses, params, f"{cols.model} {like} :model ESCAPE '\\'", model=contains(flt.model))


def _add(clauses: list[str], params: dict[str, Any], clause: str, **values: Any) -> None:
    clauses.append(clause)
    params.update(values)


def _add_present(
    clauses: list[str], params: dict[str, Any], items: tuple[tuple[str, str, Any], ...]
) -> None:
    """Each ``(clause, name, value)`` whose value is given (an empty text means no filter)."""
    for clause, name, value in items:
        if value is not None and value != "":
            _add(clauses, params, clause, **{name: value})


def _where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""
