"""Stores for the analysis tests: SQLite in a temp dir, and Postgres in a database of this session.

The Postgres cases skip with a reason when the server or ``nexus.store.postgres`` is missing, unless
``NEXUS_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get(
    "NEXUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("NEXUS_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _fresh_database(purpose: str) -> Iterator[str]:
    """Create a database for this test session, yield its URL, drop it at the end."""
    import asyncio

    import asyncpg

    name = f"nexus_{purpose}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        # Its own thread and loop: this may be first requested from inside a running test loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(sql)).result()

    try:
        run(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        _skip_or_fail(f"no PostgreSQL server at {PG_ADMIN_URL}: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def analysis_pg_url() -> Iterator[str]:
    """The database PostgresStore opens in these tests."""
    yield from _fresh_database("analysis")


@pytest.fixture(scope="session")
def raw_pg_url() -> Iterator[str]:
    """A database for raw-SQL tests that build the tables themselves."""
    yield from _fresh_database("analysis_raw")


@pytest.fixture(params=["sqlite", "postgres"])
async def job_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """An opened store of each dialect (Postgres: every table emptied first)."""
    if request.param == "sqlite":
        from nexus.store.sqlite import SqliteStore

        store: Any = SqliteStore(tmp_path / "nexus.db")
    else:
        try:
            from nexus.store.postgres import PostgresStore
        except ImportError:
            _skip_or_fail("nexus.store.postgres is not available yet")
        url = request.getfixturevalue("analysis_pg_url")
        store = PostgresStore(url)
    await store.open()
    if request.param == "postgres":
        tables = await store._fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> '_migrations'"
        )
        await store._execute("TRUNCATE " + ", ".join(f'"{t[0]}"' for t in tables))
    try:
        yield store
    finally:
        await store.close()
