"""RequestFilter → a WHERE clause built from the named filter fragments of a dialect's queries.

Fragments are written with ``?`` placeholders in both dialects; ``numbered`` rewrites them to
``$1, $2 …`` for Postgres. Values are always bound, never formatted into SQL.
"""

from __future__ import annotations

import re
from typing import Any

from nexus.errors import ApiError
from nexus.records import RequestFilter

_STATUS_CLASS = re.compile(r"^([1-5])xx$")


def build_where(
    q: dict[str, str], flt: RequestFilter, cursor: str | None = None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []

    def add(name: str, *values: Any) -> None:
        clauses.append(q[name])
        params.extend(values)

    if cursor:
        add("filter_cursor", cursor)
    if flt.since_ms is not None:
        add("filter_since", flt.since_ms)
    if flt.until_ms is not None:
        add("filter_until", flt.until_ms)
    if flt.host:
        add("filter_host", flt.host)
    if flt.account_id:
        add("filter_account", flt.account_id)
    if flt.model:
        add("filter_model", contains(flt.model))
    if flt.status:
        _add_status(flt.status, add)
    if flt.traffic_class:
        add("filter_class", flt.traffic_class)
    if flt.session_id:
        add("filter_session", flt.session_id)
    if flt.conversation_id:
        add("filter_conversation", flt.conversation_id)
    if flt.text:
        if "filter_text" in q:
            add("filter_text", flt.text)
        else:
            add("filter_text_fallback", contains(flt.text), contains(flt.text))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, params


def contains(text: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern matching ``text`` anywhere, its own ``%`` and ``_`` taken
    literally (``model=%`` must not match every row). Case is ignored by the SQL: SQLite's LIKE,
    Postgres' ILIKE."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _add_status(status: str, add: Any) -> None:
    status = status.strip().lower()
    if status == "error":
        add("filter_status_error")
    elif m := _STATUS_CLASS.match(status):
        base = int(m.group(1)) * 100
        add("filter_status_range", base, base + 100)
    elif status.isdigit():
        add("filter_status_exact", int(status))
    else:
        raise ApiError(f"status must be a code like 429, a class like 5xx, or 'error': {status!r}")


def numbered(sql: str, start: int = 1) -> str:
    """Rewrite ``?`` placeholders to ``$n`` (Postgres)."""
    counter = iter(range(start, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
