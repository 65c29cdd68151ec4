"""The SQLite connection layer: one writer connection (WAL, serialised by a lock) and one reader.

Owns connecting, pragmas, migrations and the primitives every mixin uses: ``_fetchall``,
``_fetchone``, ``_execute`` and ``_transaction``. Driver errors that mean "the database cannot be
used" become ``StoreUnavailable`` here and nowhere else. The database file is private: created 0600
in a 0700 folder (SQLite gives its ``-wal`` and ``-shm`` files the database file's mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiosqlite

from nexus.errors import StoreUnavailable
from nexus.store import connector, migrate, queries
from nexus.store.content import CutMemory
from nexus.store.dialect import SQLITE

Params = Mapping[str, Any] | Sequence[Any]
Row = sqlite3.Row

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private_file(path: Path) -> None:
    """Create ``path`` (and a missing folder) readable by its owner only, before SQLite opens it;
    tighten a file an older Nexus created 0644, with its side files."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, FILE_MODE))
    for file in (path, *(path.with_name(path.name + side) for side in _SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(FILE_MODE)


_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",  # only takes effect on a new file: prune gives space back
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=OFF",
)


@contextlib.contextmanager
def map_store_errors() -> Any:
    """Translate sqlite3's operational failures into StoreUnavailable (raised from the original)."""
    try:
        yield
    except (sqlite3.OperationalError, sqlite3.DatabaseError, ValueError) as exc:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise
        if isinstance(exc, ValueError) and "closed" not in str(exc):
            raise
        raise StoreUnavailable(f"SQLite: {exc}") from exc


def _statement(q: Mapping[str, str], name: str, params: Params) -> str:
    """The text to run: a query name or SQL, with ``= ANY(:list)`` rewritten when named."""
    sql = q.get(name, name)
    return SQLITE.compile(sql)[0] if isinstance(params, Mapping) else sql


class Tx:
    """Statements run inside one write transaction. ``params``: a dict for ``:name`` statements,
    a sequence for ``?`` ones."""

    def __init__(self, conn: aiosqlite.Connection, q: dict[str, str]) -> None:
        self._conn = conn
        self.q = q
        self.notify = False  # Postgres sends NOTIFY when set; SQLite wakes readers after commit

    async def execute(self, name: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_statement(self.q, name, params), params)
        return cursor.rowcount

    async def executemany(self, name: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            await self._conn.executemany(_statement(self.q, name, rows[0]), rows)

    async def fetchall(self, name: str, params: Params = ()) -> list[Row]:
        return await _fetchall(self._conn, _statement(self.q, name, params), params)

    async def fetchone(self, name: str, params: Params = ()) -> Row | None:
        return await _fetchone(self._conn, _statement(self.q, name, params), params)


class InlineTx:
    """``Tx`` on a plain sqlite3 connection, run on the caller's thread: no round trip to a driver
    thread per statement (~0.1 ms of CPU each). Only for a process whose event loop serves nothing
    that waits (the recorder child); the proxy process keeps ``Tx``."""

    def __init__(self, conn: sqlite3.Connection, q: dict[str, str]) -> None:
        self._conn = conn
        self.q = q
        self.notify = False

    async def execute(self, name: str, params: Params = ()) -> int:
        return self._conn.execute(_statement(self.q, name, params), params).rowcount

    async def executemany(self, name: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            self._conn.executemany(_statement(self.q, name, rows[0]), rows)

    async def fetchall(self, name: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(_statement(self.q, name, params), params).fetchall()

    async def fetchone(self, name: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(_statement(self.q, name, params), params).fetchone()
        return row


# Each aiosqlite call is a round trip to its thread (~0.1 ms of CPU in queues and wake-ups): a query
# and its rows come back in one (execute_fetchall), not two (execute, then cursor.fetchall). Rows are
# ``sqlite3.Row``: read by column name (and still by position, for raw statements).
async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Params) -> list[Row]:
    return list(await conn.execute_fetchall(sql, params))


async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Params) -> Row | None:
    rows = await conn.execute_fetchall(sql, params)
    for row in rows:
        return row
    return None


class SqliteConnection:
    """Base of SqliteStore: connections and primitives. ``q`` maps query names to SQL."""

    dialect = "sqlite"
    sql_dialect = SQLITE

    def __init__(self, path: Path | str, *, inline: bool = False) -> None:
        self.path = Path(path)
        self.inline = inline  # write transactions and batch cutting on the loop's thread
        self._inline: sqlite3.Connection | None = None
        self.q = queries.load("sqlite")
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._cut_memory = CutMemory()  # recent bodies' cuts: a history is not cut again
        self._known_blobs: set[bytes] = set()  # blob hashes already stored: skip re-compressing

    async def open(self) -> None:
        with map_store_errors():
            if str(self.path) != ":memory:":
                make_private_file(self.path)
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            self._writer.row_factory = sqlite3.Row
            for pragma in _PRAGMAS:
                await self._writer.execute(pragma)
            await self._migrate(self._writer)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            self._reader.row_factory = sqlite3.Row
            for pragma in _PRAGMAS[2:]:
                await self._reader.execute(pragma)
            if self.inline:
                self._inline = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )  # write transactions are serialised by the lock, whichever thread runs them
                self._inline.row_factory = sqlite3.Row
                for pragma in _PRAGMAS[2:]:
                    self._inline.execute(pragma)

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._reader = self._writer = None

    async def _migrate(self, conn: aiosqlite.Connection) -> list[str]:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at_ms INTEGER)"
        )
        cursor = await conn.execute("SELECT name FROM _migrations")
        applied = {row[0] for row in await cursor.fetchall()}
        done = []
        for name, sql in migrate.pending("sqlite", applied):
            # executescript commits first; wrap the script and its record in one transaction.
            await conn.executescript(
                "BEGIN IMMEDIATE;\n" + sql + "\nINSERT INTO _migrations VALUES ("
                f"'{name}', CAST(strftime('%s','now') AS INTEGER) * 1000);\nCOMMIT;"
            )
            done.append(name)
        return done

    async def applied_migrations(self) -> list[str]:
        return [
            row[0] for row in await self._fetchall("SELECT name FROM _migrations ORDER BY name")
        ]

    def _conn(self, writer: bool = False) -> aiosqlite.Connection:
        conn = self._writer if writer else self._reader
        if conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        return conn

    async def fetchall(self, name: str, params: Params = ()) -> list[Row]:
        with map_store_errors():
            return await _fetchall(self._conn(), _statement(self.q, name, params), params)

    async def fetchone(self, name: str, params: Params = ()) -> Row | None:
        with map_store_errors():
            return await _fetchone(self._conn(), _statement(self.q, name, params), params)

    async def execute(self, name: str, params: Params = ()) -> int:
        async with self._transaction() as tx:
            return await tx.execute(name, params)

    # Rows as tuples, for statements read by position (tests, benchmarks).
    async def _fetchall(self, name: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.fetchall(name, params)]

    async def _fetchone(self, name: str, params: Params = ()) -> tuple[Any, ...] | None:
        row = await self.fetchone(name, params)
        return None if row is None else tuple(row)

    _execute = execute

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[connector.Tx]:
        """One write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        if self._inline is not None:
            async with self._inline_transaction(self._inline) as tx:
                yield tx
            return
        async with self._write_lock:
            conn = self._conn(writer=True)
            with map_store_errors():
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(conn, self.q)
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            self._after_commit()

    def transaction(self) -> AbstractAsyncContextManager[connector.Tx]:
        return self._transaction()

    @contextlib.asynccontextmanager
    async def _inline_transaction(self, conn: sqlite3.Connection) -> AsyncIterator[InlineTx]:
        async with self._write_lock:
            with map_store_errors():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield InlineTx(conn, self.q)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            self._after_commit()

    def _after_commit(self) -> None:
        """Hook run after every commit (the event bus wakes the live feed here)."""
        callback = getattr(self, "on_commit", None)
        if callback is not None:
            callback()
