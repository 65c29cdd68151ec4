"""The SQLite connector: one writer connection (WAL, serialised by a lock) and a few readers.

Owns connecting, pragmas, migrations, the planner's statistics, giving space back, backups and the
primitives every area uses (``nexus.store.connector.Connector``). Driver errors that mean "the
database cannot be used" become ``StoreUnavailable`` here and nowhere else. The database file is
private: created 0600 in a 0700 folder (SQLite gives its ``-wal`` and ``-shm`` files the database
file's mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiosqlite

from nexus.errors import StoreUnavailable
from nexus.store import connector, migrate
from nexus.store.dialect import SQLITE

Params = Mapping[str, Any] | Sequence[Any]
Row = sqlite3.Row
# Reads run side by side on this many connections (WAL lets readers work beside the writer and
# each other): on one, a slow count held every other client's page behind it.
READERS = 3

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


def _statement(sql: str, params: Params) -> str:
    """The text to run: ``= ANY(:list)`` rewritten when the values are named."""
    return SQLITE.compile(sql)[0] if isinstance(params, Mapping) else sql


# Records written between two looks at whether the planner's statistics are still true.
_STATISTICS_EVERY = 5_000
# Rows ANALYZE samples per index: bounds its cost (tens of ms at 100 000 requests) whatever the size.
_ANALYSIS_LIMIT = 1_000


class Tx:
    """Statements run inside one write transaction. ``params``: a dict for ``:name`` statements,
    a sequence for ``?`` ones."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.notify = False  # Postgres sends NOTIFY when set; SQLite wakes readers after commit

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_statement(sql, params), params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            await self._conn.executemany(_statement(sql, rows[0]), rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await _fetchall(self._conn, _statement(sql, params), params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await _fetchone(self._conn, _statement(sql, params), params)


class InlineTx:
    """``Tx`` on a plain sqlite3 connection, run on the caller's thread: no round trip to a driver
    thread per statement (~0.1 ms of CPU each). Only for a process whose event loop serves nothing
    that waits (the recorder child); the proxy process keeps ``Tx``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.notify = False

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(_statement(sql, params), params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            self._conn.executemany(_statement(sql, rows[0]), rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(_statement(sql, params), params).fetchall()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(_statement(sql, params), params).fetchone()
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


class SqliteConnector:
    sql_dialect = SQLITE

    def __init__(self, path: Path | str, *, inline: bool = False) -> None:
        self.path = Path(path)
        self.inline = inline  # write transactions and batch cutting on the loop's thread
        self._inline: sqlite3.Connection | None = None
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._reading: list[int] = []  # calls in flight on each reader
        self._write_lock = asyncio.Lock()
        self.on_commit: Callable[[], None] | None = None  # the event bus wakes the live feed
        self._since_statistics = 0
        self._analyzed_rows: int | None = None  # requests when this process last analyzed

    async def open(self) -> None:
        with map_store_errors():
            if str(self.path) != ":memory:":
                make_private_file(self.path)
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            self._writer.row_factory = sqlite3.Row
            for pragma in _PRAGMAS:
                await self._writer.execute(pragma)
            await self._migrate(self._writer)
            # An in-memory database is one per connection: it gets the one reader it always had.
            for _ in range(1 if str(self.path) == ":memory:" else READERS):
                reader = await aiosqlite.connect(self.path, isolation_level=None)
                reader.row_factory = sqlite3.Row
                for pragma in _PRAGMAS[2:]:
                    await reader.execute(pragma)
                self._readers.append(reader)
                self._reading.append(0)
            if self.inline:
                self._inline = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )  # write transactions are serialised by the lock, whichever thread runs them
                self._inline.row_factory = sqlite3.Row
                for pragma in _PRAGMAS[2:]:
                    self._inline.execute(pragma)
        await self.refresh_statistics()  # a store that grew under an older Nexus has none

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        for conn in (*self._readers, self._writer):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._readers, self._reading, self._writer = [], [], None

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
        rows = await self.fetchall("SELECT name FROM _migrations ORDER BY name", {})
        return [row["name"] for row in rows]

    def _writer_conn(self) -> aiosqlite.Connection:
        """The writer (reads go through ``_reader``)."""
        conn = self._writer
        if conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        return conn

    @contextlib.contextmanager
    def _reader(self) -> Iterator[aiosqlite.Connection]:
        """The reader with the fewest calls in flight, for one read."""
        if not self._readers:
            raise StoreUnavailable("the SQLite store is not open")
        index = min(range(len(self._readers)), key=self._reading.__getitem__)
        self._reading[index] += 1
        try:
            yield self._readers[index]
        finally:
            self._reading[index] -= 1

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with map_store_errors(), self._reader() as conn:
            return await _fetchall(conn, _statement(sql, params), params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with map_store_errors(), self._reader() as conn:
            return await _fetchone(conn, _statement(sql, params), params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[connector.Tx]:
        """One write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        if self._inline is not None:
            async with self._inline_transaction(self._inline) as tx:
                yield tx
            return
        async with self._write_lock:
            conn = self._writer_conn()
            with map_store_errors():
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(conn)
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
        if self.on_commit is not None:
            self.on_commit()

    def transaction(self) -> AbstractAsyncContextManager[connector.Tx]:
        return self._transaction()

    @contextlib.asynccontextmanager
    async def _inline_transaction(self, conn: sqlite3.Connection) -> AsyncIterator[InlineTx]:
        async with self._write_lock:
            with map_store_errors():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield InlineTx(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        if self.on_commit is not None:
            self.on_commit()

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """One process owns a SQLite file: its own bus hears every commit, nothing to listen to."""
        return None

    async def note_written(self, records: int) -> None:
        self._since_statistics += records
        if self._since_statistics >= _STATISTICS_EVERY:
            self._since_statistics = 0
            await self.refresh_statistics()

    async def refresh_statistics(self) -> bool:
        """ANALYZE when there are no statistics, or the requests table has doubled since.

        Without statistics SQLite guesses, and for a sum scoped to one account it picked the
        host/account index over the time index: ``usage_now`` over 100 000 requests took 352 ms,
        53 ms once analyzed. ``analysis_limit`` keeps ANALYZE cheap, but its row counts are then
        estimates, so the count it is compared with is the one this process saw.
        """
        async with self._write_lock:
            conn = self._writer_conn()
            cursor = await conn.execute("SELECT count(*) FROM requests")
            rows = int((await cursor.fetchone() or (0,))[0])
            if self._analyzed_rows is None:  # first look in this process
                cursor = await conn.execute(
                    "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
                )
                if await cursor.fetchone() is not None:
                    self._analyzed_rows = rows  # analyzed before: take them as true for now
            if rows < 1_000 or (self._analyzed_rows is not None and rows < 2 * self._analyzed_rows):
                return False  # a small table plans well unanalyzed
            await conn.execute(f"PRAGMA analysis_limit={_ANALYSIS_LIMIT}")
            await conn.executescript("ANALYZE;")
            self._analyzed_rows = rows
            return True

    async def reclaim_space(self) -> None:
        """Give the space a prune freed back to the file system."""
        async with self._write_lock:
            conn = self._writer_conn()
            # An FTS5 index only marks deleted rows; 'optimize' merges them away so their pages
            # become free. Found by kind, so the core needs to know no area's index by name.
            cursor = await conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%USING fts5%'"
            )
            for (name,) in await cursor.fetchall():
                await conn.execute(f'INSERT INTO "{name}" ("{name}") VALUES (\'optimize\')')
            # incremental_vacuum frees one page per step, and sqlite3's execute() steps once (and
            # leaves the statement open, which makes the checkpoint fail "table is locked");
            # executescript runs it to the end.
            await conn.executescript("PRAGMA incremental_vacuum;")
            cursor = await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await cursor.fetchall()
            await cursor.close()

    async def backup(self, path: Path) -> None:
        """An online, consistent copy of the database file (SQLite's backup API)."""
        make_private_file(path)  # a backup holds everything the database does
        async with aiosqlite.connect(path) as target:
            await self._writer_conn().backup(target)
