"""CPU and records of a running ``nexus serve`` by process: the proxy, its recorder child and the
database server's backends (Postgres; SQLite runs inside the recorder and the proxy process).

Shared by proxy_overhead.py (the per-process CPU columns) and visibility.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pg(url: str, sql: str) -> list[tuple[object, ...]]:
    import asyncpg

    async def run() -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds of every Postgres backend connected to ``url``'s database (its pids found in
    ``pg_stat_activity``); {} for SQLite, whose work is done inside Nexus's own processes."""
    if not url.startswith("postgresql"):
        return {}
    pids = _pg(url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()")  # fmt: skip
    out: dict[int, float] = {}
    for (pid,) in pids:
        with contextlib.suppress(OSError):
            out[int(pid)] = cpu_seconds(int(pid))  # type: ignore[call-overload]
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two ``database_cpu`` samples (backends that started since count whole)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def count_records(url: str) -> int:
    if url.startswith("postgresql"):
        return int(_pg(url, "SELECT count(*) FROM requests")[0][0])  # type: ignore[call-overload]
    path = url.removeprefix("sqlite:///")
    if not os.path.exists(path):
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        try:
            return int(db.execute("SELECT count(*) FROM requests").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


@contextmanager
def fresh_postgres(prefix: str = "bench_po") -> Iterator[str]:
    """A new Postgres database for one run, dropped afterwards (never the shared ``test`` one)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _pg(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ProcessCpu:
    """CPU seconds by process of one ``nexus serve``: proxy, recorder, database."""

    def __init__(self, proxy_pid: int, recorder_pid: int | None, db_url: str) -> None:
        self.proxy_pid, self.recorder_pid, self.db_url = proxy_pid, recorder_pid, db_url

    def sample(self) -> tuple[float, float, dict[int, float]]:
        recorder = 0.0
        if self.recorder_pid is not None:
            with contextlib.suppress(OSError):
                recorder = cpu_seconds(self.recorder_pid)
        return cpu_seconds(self.proxy_pid), recorder, database_cpu(self.db_url)

    @staticmethod
    def delta(
        before: tuple[float, float, dict[int, float]], after: tuple[float, float, dict[int, float]]
    ) -> tuple[float, float, float]:
        """(proxy, recorder, database) CPU seconds between two samples."""
        return after[0] - before[0], after[1] - before[1], cpu_delta(before[2], after[2])
