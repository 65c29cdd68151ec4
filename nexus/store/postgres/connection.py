"""The Postgres connection layer: an asyncpg pool, migrations under an advisory lock, and the same
primitives the SQLite layer offers (``_fetchall``, ``_fetchone``, ``_execute``, ``_transaction``).

Several ``nexus serve`` processes may share one database: migrations take a session advisory lock,
writes are idempotent, and every transaction that adds events sends ``NOTIFY nexus_events`` so other
processes' live feeds wake up. Driver errors that mean "the database cannot be used" become
``StoreUnavailable`` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from nexus.errors import ConfigError, StoreUnavailable
from nexus.store import connector, migrate, queries
from nexus.store.content import CutMemory
from nexus.store.dialect import POSTGRES

Params = Mapping[str, Any] | Sequence[Any]

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


def text_safe(row: Sequence[Any]) -> Sequence[Any]:
    """``row`` with every U+0000 in its strings replaced by U+FFFD: Postgres ``text`` cannot hold
    one, and a client can put one in any text the recorder derives (a prompt preview, the search
    text, an id in the body). Lookups get the same replacement, so they find what was written. Only
    text is touched: bodies are ``bytea``, kept exactly."""
    if not any(isinstance(v, str) and "\x00" in v for v in row):
        return row
    return [v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in row]


def _statement(q: Mapping[str, str], name: str, params: Params) -> tuple[str, Sequence[Any]]:
    """The text to run (a query name or SQL) and its positional arguments: a dict of ``:name``
    values is numbered by the dialect, a sequence is taken as the ``$n`` values already."""
    sql = q.get(name, name)
    if isinstance(params, Mapping):
        sql, args = POSTGRES.bind(sql, params)
        return sql, text_safe(args)
    return sql, text_safe(params)


class PgTx:
    """Statements run inside one transaction on one pooled connection."""

    def __init__(self, conn: asyncpg.Connection, q: dict[str, str]) -> None:
        self._conn = conn
        self.q = q
        self.notify = False  # set by writes that add events: NOTIFY goes out with the commit

    async def execute(self, name: str, params: Params = ()) -> int:
        sql, args = _statement(self.q, name, params)
        status = await self._conn.execute(sql, *args)
        match = _ROWCOUNT.search(status or "")
        return int(match.group(1)) if match else 0

    async def executemany(self, name: str, rows: Iterable[Params]) -> None:
        statements = [_statement(self.q, name, row) for row in rows]
        if statements:
            await self._conn.executemany(statements[0][0], [args for _, args in statements])

    async def fetchall(self, name: str, params: Params = ()) -> list[Any]:
        sql, args = _statement(self.q, name, params)
        return list(await self._conn.fetch(sql, *args))

    async def fetchone(self, name: str, params: Params = ()) -> Any:
        sql, args = _statement(self.q, name, params)
        return await self._conn.fetchrow(sql, *args)


class PostgresConnection:
    dialect = "postgres"
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
        self.q = queries.load("postgres")
        self._pool: asyncpg.Pool | None = None
        self._cut_memory = CutMemory()  # recent bodies' cuts: a history is not cut again
        self._known_blobs: set[bytes] = set()

    async def open(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        with map_store_errors():
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.max_connections,
                command_timeout=60,
                timeout=10,
                server_settings=settings,
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
        return [r[0] for r in await self._fetchall("SELECT name FROM _migrations ORDER BY name")]

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the Postgres store is not open")
        return self._pool

    async def fetchall(self, name: str, params: Params = ()) -> list[Any]:
        """Rows are asyncpg Records: read by column name (or position, for raw statements)."""
        sql, args = _statement(self.q, name, params)
        with map_store_errors():
            return list(await self._require_pool().fetch(sql, *args))

    async def fetchone(self, name: str, params: Params = ()) -> Any:
        sql, args = _statement(self.q, name, params)
        with map_store_errors():
            return await self._require_pool().fetchrow(sql, *args)

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
    async def _transaction(self) -> AsyncIterator[PgTx]:
        """One transaction; commits on success (with NOTIFY when events were added)."""
        with map_store_errors():
            async with self._require_pool().acquire() as conn, conn.transaction():
                tx = PgTx(conn, self.q)
                yield tx
                if tx.notify:
                    await conn.execute("SELECT pg_notify('nexus_events', '')")
        self._after_commit()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside a transaction (LISTEN, VACUUM)."""
        with map_store_errors():
            async with self._require_pool().acquire() as conn:
                yield conn

    def transaction(self) -> AbstractAsyncContextManager[connector.Tx]:
        return self._transaction()

    def _after_commit(self) -> None:
        callback = getattr(self, "on_commit", None)
        if callback is not None:
            callback()
