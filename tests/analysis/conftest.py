"""Stores for the analysis tests: the shared ``store`` fixture, and a database of this session for
the raw-SQL claim tests (skipped with a reason without a server, unless NEXUS_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
def raw_pg_url() -> Iterator[str]:
    """A database for raw-SQL tests that build the tables themselves."""
    yield from _fresh_database("analysis_raw")


@pytest.fixture
def job_store(store: Any) -> Any:
    """The shared ``store`` fixture (SQLite; Postgres in a fresh schema), named for these tests."""
    return store
