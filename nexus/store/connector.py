"""What an area of the store asks of a database connection: run a statement, read rows, hold a
transaction. ``SqliteConnector`` and ``PostgresConnector`` provide it; areas never import either.

Statements are SQL text (``queries.load(dialect)[name]``) with ``:name`` parameters and a dict of
values; the connector binds them the way its driver wants (``nexus.store.dialect``). A sequence of
values runs the text as written (``?`` on SQLite, ``$1`` on Postgres): raw statements in tests.
Rows are read by column name (``row["started_at_ms"]``): ``sqlite3.Row`` or an asyncpg ``Record``.
Every method may raise ``StoreUnavailable``; no driver exception leaves a connector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from nexus.store.dialect import Dialect

Params = Mapping[str, Any] | Sequence[Any]
Row = Any  # sqlite3.Row | asyncpg.Record: both read by name and by position


class Tx(Protocol):
    """Statements inside one write transaction."""

    notify: bool  # set by a write that added events: other processes hear of the commit

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...


class Connector(Protocol):
    sql_dialect: Dialect

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read outside a write transaction (SQLite: the reader connection)."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own write transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction: committed on success, rolled back on error."""


@dataclass(frozen=True, slots=True)
class Area:
    """What every area holds: the connection it runs on and its dialect's statements."""

    db: Connector
    q: Mapping[str, str]

    @property
    def dialect(self) -> Dialect:
        return self.db.sql_dialect
