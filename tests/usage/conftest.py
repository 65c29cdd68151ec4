"""Stores for the usage tests: SQLite always, Postgres when a server answers (own database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("NEXUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_database() -> tuple[str, str] | None:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        return None
    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    name = "nexus_usage_" + uuid.uuid4().hex[:12]
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


async def _drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def usage_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        from nexus.store.sqlite import SqliteStore

        store: Any = SqliteStore(tmp_path / "nexus.db")
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    try:
        from nexus.store.postgres import PostgresStore  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("PostgresStore is not built yet")
    made = await _pg_database()
    if made is None:
        if os.environ.get("NEXUS_REQUIRE_POSTGRES") == "1":
            pytest.fail("Postgres is required (NEXUS_REQUIRE_POSTGRES=1) but did not answer")
        pytest.skip(f"no Postgres server at {PG_URL}")
    name, url = made
    store = PostgresStore(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        await _drop(name)
