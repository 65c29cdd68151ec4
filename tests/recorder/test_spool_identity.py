"""Spool folders carry the identity of their database (issue 14, item 7), through real ``nexus
serve`` processes sharing one data folder: what a killed instance left in its spool is stored
into its own database by the next instance of that database, never into another one's, and it
never holds up another database's recorder."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.recorder.test_poison import normal_calls, stored

pytestmark = pytest.mark.slow


def ids_in(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM requests")}


async def test_a_spool_folder_is_stored_only_into_its_own_database(
    nexus_process: Any, tmp_path: Path
) -> None:
    a_db, b_db = tmp_path / "a.db", tmp_path / "b.db"
    a = await nexus_process(f"sqlite:///{a_db}")
    async with asyncio.timeout(10):
        while (recorder := a.recorder_pid()) is None:
            await asyncio.sleep(0.05)
    os.kill(recorder, signal.SIGSTOP)  # A's records stay in its spool...
    async with httpx.AsyncClient(timeout=30) as client:
        left_by_a = await normal_calls(client, a.proxy_url, 3)
    await a.kill()  # ...and A is killed with them there
    spool = tmp_path / "data" / "spool"
    [a_folder] = {p.parent for p in spool.rglob("*.spool")}  # A's records wait there

    b = await nexus_process(f"sqlite:///{b_db}")  # another database, the same data folder
    async with httpx.AsyncClient(timeout=30) as client:
        b_ids = await normal_calls(client, b.proxy_url, 3)
    assert set(await stored(f"sqlite:///{b_db}", b_ids, timeout_s=10)) == set(b_ids)
    await asyncio.sleep(1.0)  # time enough to (wrongly) adopt A's folder
    assert ids_in(b_db) == set(b_ids), "A's records were written into B's database"
    assert await b.terminate() == 0

    await nexus_process(f"sqlite:///{a_db}")  # A's database again, on another port
    got = await stored(f"sqlite:///{a_db}", left_by_a, timeout_s=15)
    assert set(got) == set(left_by_a)
    async with asyncio.timeout(10):
        while a_folder.exists():
            await asyncio.sleep(0.1)  # the adopted folder is removed once stored
