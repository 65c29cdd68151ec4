"""Through a real ``nexus serve`` on SQLite: the database, its WAL and SHM files, the spool and a
backup are readable by their owner only, in a data folder only the owner may enter."""

from __future__ import annotations

import asyncio
import os
import stat
import sys

import httpx
import pytest

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """0022, inherited by the subprocesses: files would be 0644 if Nexus did not ask for less."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_database_wal_shm_spool_and_backup_are_private(usual_umask, nexus_process, tmp_path):
    data = tmp_path / "data"
    db = data / "nexus.db"
    nexus = await nexus_process(f"sqlite:///{db}", data_dir=data)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(nexus.proxy_url + "/v1/messages", json=BODY)).is_success
    await nexus.stored(1)
    backup = tmp_path / "backups" / "copy.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nexus", "db", "backup", "--db", f"sqlite:///{db}", str(backup),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    files = [db, db.with_name("nexus.db-wal"), db.with_name("nexus.db-shm"), backup]
    files += [p for p in (data / "spool").rglob("*") if p.is_file()]
    assert {p.name: oct(mode(p)) for p in files} == {p.name: "0o600" for p in files}
    assert oct(mode(data)) == "0o700"
