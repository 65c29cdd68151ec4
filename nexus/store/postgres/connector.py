"""The Postgres connector: an asyncpg pool, migrations under an advisory lock, the primitives every
area uses (``nexus.store.connector.Connector``), VACUUM after a prune, and LISTEN.

Several ``nexus serve`` processes may share one database: migrations take a session advisory lock,
writes are idempotent, and every transaction that adds events sends ``NOTIFY nexus_events`` so other
processes' live feeds wake up. Driver errors that mean "the database cannot be used" become
``StoreUnavailable`` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypedDict

import asyncpg

from nexus.errors import ConfigError, StoreUnavailable
from nexus.store import connector, migrate
from nexus.store.dialect import POSTGRES

Params = Mapping[str, Any] | Sequence[Any]

log = logging.getLogger("nexus.store")
CHANNEL = "nexus_events"
_PING_S = 30.0  # a silent dead TCP connection is only noticed when something is sent on it
# Records this process writes before it first refreshes the planner's statistics; then each time
# that count doubles.
_STATISTICS_FIRST = 200
# What the linker and the lists look up by index: without statistics the planner scans every key of
# a scope for each lookup (2 ms at 600 records, 10+ ms at 2 000: the recorder fell minutes behind).
_ANALYZED = "link_keys, link_nodes, links, conversations, requests"
_MIGRATION_LOCK = 0x6E657875  # "nexu": one lock id for every Nexus process
_ROWCOUNT = re.compile(r"(\d+)$")
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    # The database is there but cannot take writes now, or is not the one Nexus migrated: every
    # record would fail alike. An outage to wait out, never a reason to set a record aside.
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a failover to a standby
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization: try again
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.ObjectInUseError,
    asyncpg.exceptions.PostgresSystemError,  # I/O error
    asyncpg.exceptions.InvalidSchemaNameError,
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.UndefinedColumnError,
    asyncpg.exceptions.InsufficientPrivilegeError,
)


@contextlib.contextmanager
def map_store_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.exceptions.InvalidCatalogNameError as exc:
        raise ConfigError(f"Postgres: {exc}") from exc
    except asyncpg.exceptions.InvalidAuthorizationSpecificationError as exc:
        # a wrong password, a role that does not exist, no pg_hba.conf entry: all settings to fix
        raise ConfigError(f"Postgres refused the login: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"Postgres: {exc or type(exc).__name__}") from exc


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection back in the pool keeps its session as it is. asyncpg's default reset sends
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release: one more
    round trip for every read and transaction (3 of the recorder's ~30 per record). Nexus leaves
    nothing in a pooled session to undo: it holds session locks only while migrating (and releases
    them), LISTENs on a connection of its own and never ``SET``s. asyncpg still rolls back a
    transaction left open before this is called."""


def text_safe(row: Sequence[Any]) -> Sequence[Any]:
    """``row`` with every U+0000 in its strings replaced by U+FFFD: Postgres ``text`` cannot hold
    one, and a client can put one in any text the recorder derives (a prompt preview, the search
    text, an id in the body). Lookups get the same replacement, so they find what was written. Only
    text is touched: bodies are ``bytea``, kept exactly."""
    if not any(_has_nul(v) for v in row):
        return row
    return [_without_nul(v) for v in row]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value)


def _without_nul(value: Any) -> Any:
    """A string, or the strings of a list (an array parameter), without U+0000."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in value]
    return value


def _statement(sql: str, params: Params) -> tuple[str, Sequence[Any]]:
    """The text to run and its positional arguments: a dict of ``:name`` values is numbered by
    the dialect, a sequence is taken as the ``$n`` values already."""
    if isinstance(params, Mapping):
        sql, args = POSTGRES.bind(sql, params)
        return sql, text_safe(args)
    return sql, text_safe(params)


class PgTx:
    """Statements run inside one transaction on one pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        # Set by writes that add events. Nothing to do here: a trigger on ``events`` sends NOTIFY
        # with the commit (migration 0011), without a round trip of its own.
        self.notify = False

    async def execute(self, sql: str, params: Params = ()) -> int:
        text, args = _statement(sql, params)
        status = await self._conn.execute(text, *args)
        match = _ROWCOUNT.search(status or "")
        return int(match.group(1)) if match else 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        statements = [_statement(sql, row) for row in rows]
        if statements:
            await self._conn.executemany(statements[0][0], [args for _, args in statements])

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        text, args = _statement(sql, params)
        return list(await self._conn.fetch(text, *args))

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        text, args = _statement(sql, params)
        return await self._conn.fetchrow(text, *args)


class PostgresOptions(TypedDict, total=False):
    """What ``PostgresStore`` passes on to its connector (the defaults are the connector's)."""

    schema: str | None
    max_connections: int
    inline: bool


class PostgresConnector:
    sql_dialect = POSTGRES

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        max_connections: int = 10,
        inline: bool = False,
    ) -> None:
        self.dsn = dsn
        self.inline = inline  # batch cutting on the loop's thread (build_store)
        self.schema = schema
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None
        self.on_commit: Callable[[], None] | None = None  # the event bus wakes the live feed
        self._statistics_at = 0  # records written here at the next refresh (0: the first one)
        self._written_here = 0

    async def open(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        if self.inline:
            # The recorder child runs a fixed set of statements, each planned for any value: index
            # look-ups by key, id and position, and writes of unnest'ed arrays. Left to choose,
            # Postgres planned the key look-up (conv_find_keys) afresh at every run, since its
            # generic plan's cost counts an array parameter as 100 elements: 0.5 ms of server CPU
            # per record, more than running it. Other processes keep the default (the API's lists
            # take filters whose best plan depends on their values).
            settings["plan_cache_mode"] = "force_generic_plan"
        with map_store_errors():
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.max_connections,
                command_timeout=60,
                timeout=10,
                server_settings=settings,
                reset=_keep_session,
            )
            async with self._pool.acquire() as conn:
                await self._migrate(conn)

    async def close(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 10)
            self._pool = None

    async def _migrate(self, conn: asyncpg.Connection) -> list[str]:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)"
            )
            applied = {r[0] for r in await conn.fetch("SELECT name FROM _migrations")}
            done = []
            for name, sql in migrate.pending("postgres", applied):
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO _migrations VALUES ($1, "
                        "(extract(epoch FROM now()) * 1000)::bigint)",
                        name,
                    )
                done.append(name)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def applied_migrations(self) -> list[str]:
        rows = await self.fetchall("SELECT name FROM _migrations ORDER BY name", {})
        return [r["name"] for r in rows]

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the Postgres store is not open")
        return self._pool

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        """Rows are asyncpg Records: read by column name (or position, for raw statements)."""
        text, args = _statement(sql, params)
        with map_store_errors():
            return list(await self._require_pool().fetch(text, *args))

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        text, args = _statement(sql, params)
        with map_store_errors():
            return await self._require_pool().fetchrow(text, *args)

    async def execute(self, sql: str, params: Params = ()) -> int:
        # One statement is its own transaction (autocommit): no BEGIN and COMMIT round trips.
        with map_store_errors():
            async with self._require_pool().acquire() as conn:
                changed = await PgTx(conn).execute(sql, params)
        if self.on_commit is not None:
            self.on_commit()
        return changed

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PgTx]:
        """One transaction; commits on success (with NOTIFY when events were added)."""
        with map_store_errors():
            async with self._require_pool().acquire() as conn, conn.transaction():
                yield PgTx(conn)
        if self.on_commit is not None:
            self.on_commit()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside a transaction (LISTEN, VACUUM)."""
        with map_store_errors():
            async with self._require_pool().acquire() as conn:
                yield conn

    def transaction(self) -> AbstractAsyncContextManager[connector.Tx]:
        return self._transaction()

    async def note_written(self, records: int) -> None:
        self._written_here += records
        if self._written_here >= (self._statistics_at or _STATISTICS_FIRST):
            self._statistics_at = 2 * self._written_here
            await self.refresh_statistics()

    async def refresh_statistics(self) -> None:
        """ANALYZE the tables lookups go through. Autovacuum does it too, when it runs (it may be
        off, and it waits for a tenth of a table to change): a fresh store that grows fast has no
        statistics at all, and its key lookups scan the whole scope instead of using the index."""
        try:
            async with self._connection() as conn:
                await conn.execute(f"ANALYZE {_ANALYZED}")
        except Exception as exc:  # statistics help; their absence must never stop recording
            log.warning("could not refresh the planner's statistics: %s", exc)

    async def reclaim_space(self) -> None:
        # Plain VACUUM makes the space reusable without locking writers out; VACUUM FULL would
        # give it to the OS but blocks every other replica, so that stays a manual decision.
        async with self._connection() as conn:
            for table in ("requests", "links", "request_blobs", "message_nodes", "blobs", "events"):
                with contextlib.suppress(Exception):
                    await conn.execute(f"VACUUM {table}")

    async def backup(self, path: Path) -> None:
        raise ConfigError("use pg_dump to back up a Postgres store (nexus db backup prints it)")

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """Hold one dedicated connection listening on ``nexus_events`` and turn each notification
        into a wake-up of this process's event bus; readers read the events table themselves, so
        the payload is empty and coalesced notifications lose nothing."""
        with map_store_errors():
            conn: asyncpg.Connection = await asyncpg.connect(self.dsn, timeout=10)
        lost = asyncio.Event()

        def heard(*_: Any) -> None:
            on_notify()

        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            with map_store_errors():
                await conn.add_listener(CHANNEL, heard)
            on_notify()  # commits made before LISTEN took effect are read now
            while True:
                try:
                    await asyncio.wait_for(lost.wait(), _PING_S)
                except TimeoutError:
                    with map_store_errors():
                        await conn.execute("SELECT 1", timeout=10)
                    continue
                raise StoreUnavailable("Postgres: the LISTEN connection was closed")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()
