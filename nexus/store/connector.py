"""What an area of the store asks of a database connection: run a statement, read rows, hold a
transaction. ``SqliteConnector`` and ``PostgresConnector`` provide it; areas never import either.

Statements are SQL text (``queries.load(dialect)[name]``) with ``:name`` parameters and a dict of
values; the connector binds them the way its driver wants (``nexus.store.dialect``). A sequence of
values runs the text as written (``?`` on SQLite, ``$1`` on Postgres): raw statements in tests.
Rows are read by column name (``row["started_at_ms"]``): ``sqlite3.Row`` or an asyncpg ``Record``.
Every method may raise ``StoreUnavailable``; no driver exception leaves a connector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
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
    inline: bool  # CPU work and (SQLite) writes on the loop's thread: only the recorder child
    on_commit: Callable[[], None] | None  # called after every commit (wakes the live feed)

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def applied_migrations(self) -> list[str]: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read outside a write transaction (SQLite: the reader connection)."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own write transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction: committed on success, rolled back on error."""

    async def note_written(self, records: int) -> None:
        """Records were written (SQLite refreshes the planner's statistics now and then)."""

    async def reclaim_space(self) -> None:
        """Give back the space a prune freed (SQLite: incremental vacuum; Postgres: VACUUM)."""

    async def backup(self, path: Path) -> None: ...

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """Call ``on_notify`` whenever any process commits events, until cancelled."""


@dataclass(frozen=True, slots=True)
class Area:
    """What every area holds: the connection it runs on and its dialect's statements."""

    db: Connector
    q: Mapping[str, str]

    @property
    def dialect(self) -> Dialect:
        return self.db.sql_dialect
