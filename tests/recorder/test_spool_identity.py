"""Spool folders carry the identity of their database (issue 14, item 7), through real ``nexus
serve`` processes sharing one data folder: what a killed instance left in its spool is stored
into its own database by the next instance of that database, never into another one's, and it
never holds up another database's recorder."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from nexus.records import RequestFilter
from nexus.store import build_store
from tests.recorder.test_dead_letters import cli
from tests.recorder.test_poison import normal_calls, stored

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """Two database URLs: two SQLite files, or two schemas of one Postgres server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    import asyncpg

    pg_url = request.getfixturevalue("pg_url")
    schemas = [f"identity_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    conn = await asyncpg.connect(pg_url)
    for schema in schemas:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_url}?search_path={schemas[0]}", f"{pg_url}?search_path={schemas[1]}"
    finally:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def ids_in(url: str) -> set[str]:
    store = build_store(url)
    await store.open()
    try:
        return {r.id for r in (await store.list_requests(RequestFilter(), None, 1000)).items}
    finally:
        await store.close()


async def test_a_spool_folder_is_stored_only_into_its_own_database(
    two_databases: tuple[str, str], nexus_process: Any, tmp_path: Path
) -> None:
    a_db, b_db = two_databases
    a = await nexus_process(a_db)
    async with asyncio.timeout(10):
        while (recorder := a.recorder_pid()) is None:
            await asyncio.sleep(0.05)
    os.kill(recorder, signal.SIGSTOP)  # A's records stay in its spool...
    async with httpx.AsyncClient(timeout=30) as client:
        left_by_a = await normal_calls(client, a.proxy_url, 3)
    await a.kill()  # ...and A is killed with them there
    spool = tmp_path / "data" / "spool"
    [a_folder] = {p.parent for p in spool.rglob("*.spool")}  # A's records wait there

    b = await nexus_process(b_db)  # another database, the same data folder
    async with httpx.AsyncClient(timeout=30) as client:
        b_ids = await normal_calls(client, b.proxy_url, 3)
    assert set(await stored(b_db, b_ids, timeout_s=10)) == set(b_ids)
    await asyncio.sleep(1.0)  # time enough to (wrongly) adopt A's folder
    assert await ids_in(b_db) == set(b_ids), "A's records were written into B's database"
    _, text = await cli(b_db, "doctor", "--json", env={"NEXUS_DATA_DIR": str(tmp_path / "data")})
    [check] = [orjson.loads(x) for x in text.splitlines() if '"spool"' in x]
    assert "1 of its folders belong to another database" in check["detail"], check
    assert await b.terminate() == 0

    a_again = await nexus_process(a_db)  # A's database again, on another port
    got = await stored(a_db, left_by_a, timeout_s=15)
    assert set(got) == set(left_by_a)
    async with asyncio.timeout(10):
        while a_folder.exists():
            await asyncio.sleep(0.1)  # the adopted folder is removed once stored
    assert await a_again.terminate() == 0  # before its schema is dropped
