"""Store fixtures: ``store`` runs a test on SQLite and on Postgres (one fresh schema per test).

``serve_db_url`` is the same pair as a database URL for a whole ``nexus serve``.

Postgres comes from ``NEXUS_TEST_POSTGRES_URL`` (default: the local server, user postgres, database
test). The session gets a database of its own, dropped at the end, so concurrent runs never share
state. Without a server the Postgres cases skip and say why — unless ``NEXUS_REQUIRE_POSTGRES=1``
(CI), where they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def seed_sqlite(path: Path, records: list[Any]) -> None:
    """Write ``records`` to the SQLite database at ``path`` (made if missing), for a command under
    test to read."""
    from nexus.store.sqlite import SqliteStore

    async def write() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.write_batch(records)
        await store.close()

    asyncio.run(write())


def pg_admin_url() -> str:
    return os.environ.get("NEXUS_TEST_POSTGRES_URL") or DEFAULT_PG_URL


def skip_or_fail(reason: str) -> None:
    if os.environ.get("NEXUS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"Postgres is required here (NEXUS_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(reason)


def _admin(sql: str) -> None:
    """Run one statement on the admin database from a thread of its own (the caller may already be
    inside an event loop)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(pg_admin_url(), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this test session's own on the Postgres server."""
    name = f"nexus_test_{uuid.uuid4().hex[:10]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # any failure to reach or use the server means "no Postgres here"
        skip_or_fail(f"no usable Postgres at {pg_admin_url()} ({type(exc).__name__}: {exc})")
    yield pg_admin_url().rsplit("/", 1)[0] + "/" + name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def make_pg_store(url: str) -> tuple[Any, str]:
    """An opened PostgresStore in a new schema of ``url``; returns (store, schema)."""
    import asyncpg

    from nexus.store.postgres import PostgresStore

    schema = f"s_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    store = PostgresStore(url, schema=schema)
    await store.open()
    return store, schema


async def drop_pg_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """An opened, migrated, empty store of each dialect."""
    if request.param == "sqlite":
        from nexus.store.sqlite import SqliteStore

        sqlite_store = SqliteStore(tmp_path / "nexus.db")
        await sqlite_store.open()
        yield sqlite_store
        await sqlite_store.close()
        return
    url = request.getfixturevalue("pg_url")
    pg_store, schema = await make_pg_store(url)
    yield pg_store
    await pg_store.close()
    await drop_pg_schema(url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def serve_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL for ``nexus serve`` of each dialect: a SQLite file, or a fresh schema in the
    session's Postgres database (every connection's search_path on it), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nexus.db'}"
        return
    import asyncpg

    url = request.getfixturevalue("pg_url")
    schema = f"s_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}?search_path={schema}"
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
