"""What SQLite and Postgres do differently with the same statement, and nothing else: how named
parameters reach the driver, how a list or a flag is bound, the operators
and functions a composed WHERE clause names (case-blind LIKE, a number inside a JSON text column).

Statements are written once with ``:name`` parameters (``queries/common/*.sql``). SQLite's driver
takes ``:name`` and a dict as they are; for asyncpg ``compile`` numbers them ``$1, $2 …`` in order of
first use and returns the names in that order, so a dict of values becomes the positional list it
wants. A list is compared as ``column = ANY(:ids)``: native on Postgres (the column's type gives the
array's), rewritten for SQLite to ``column IN (SELECT value FROM json_each(:ids))`` with the list
bound as a JSON array. Pure: no driver is imported here, so any layer may name a dialect.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

DialectName = Literal["sqlite", "postgres"]

# A string literal, a comment or a '::' cast is copied as it is; a ':name' outside them is a
# parameter. (SQL never writes ':name' for anything else.)
_PARAM = re.compile(r"'(?:[^']|'')*'|--[^\n]*|::|:([A-Za-z_]\w*)")
_ANY = re.compile(r"=\s*ANY\(\s*:([A-Za-z_]\w*)\s*\)")


@dataclass(frozen=True, slots=True)
class Dialect:
    name: DialectName

    def compile(self, sql: str) -> tuple[str, tuple[str, ...]]:
        """The driver's text of a ``:name`` statement, and the parameter names in bind order."""
        return _compile(self.name, sql)

    def bind(self, sql: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        """Statement text and arguments as the driver takes them."""
        text, names = _compile(self.name, sql)
        if self.name == "sqlite":
            return text, params
        try:
            return text, [params[n] for n in names]
        except KeyError as exc:
            raise KeyError(f"no value for parameter :{exc.args[0]} in {sql[:80]!r}") from None

    def array(self, values: Sequence[Any]) -> Any:
        """A list compared with ``= ANY(:name)``."""
        return orjson.dumps(list(values)).decode() if self.name == "sqlite" else list(values)

    def spread(self, sql: str, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """``= ANY(:name)`` over values JSON cannot carry (bytes): on SQLite one parameter per
        value (``IN (:name_0, :name_1 …)``), on Postgres the array as it is."""
        if self.name == "postgres":
            return sql, {name: list(values)}
        names = [f"{name}_{i}" for i in range(len(values))]
        listed = "IN (" + ", ".join(f":{n}" for n in names) + ")"
        pattern = re.compile(r"=\s*ANY\(\s*:" + name + r"\s*\)")
        return pattern.sub(listed, sql), dict(zip(names, values, strict=True))

    @property
    def like(self) -> str:
        """The operator of a text filter, which ignores case: SQLite's LIKE does, Postgres needs
        ILIKE (a filter once found ``model=Opus`` on SQLite and nothing on Postgres)."""
        return "LIKE" if self.name == "sqlite" else "ILIKE"

    def json_int(self, column: str, key: str) -> str:
        """The integer at ``key`` (a parameter or expression) of a JSON object kept as text in
        ``column``; NULL where it has none."""
        if self.name == "sqlite":
            return f"json_extract({column}, '$.' || {key})"
        return f"({column}::jsonb ->> {key})::bigint"

    def flag(self, value: bool) -> Any:
        return int(value) if self.name == "sqlite" else bool(value)


@functools.lru_cache(maxsize=2048)  # composed WHERE clauses vary; every text is compiled once
def _compile(dialect: DialectName, sql: str) -> tuple[str, tuple[str, ...]]:
    if dialect == "sqlite":
        text = _ANY.sub(r"IN (SELECT value FROM json_each(:\1))", sql)
        return text, tuple(dict.fromkeys(m[1] for m in _PARAM.finditer(text) if m[1]))
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match[1]
        if name is None:
            return match[0]
        return f"${order.setdefault(name, len(order) + 1)}"

    text = _PARAM.sub(number, sql)
    return text, tuple(order)


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgres")
