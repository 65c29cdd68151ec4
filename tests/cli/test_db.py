"""`nexus db stats|prune|backup|migrate` on a seeded SQLite store (Postgres where it differs)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid

import orjson
import pytest
from typer.testing import CliRunner

from nexus.cli.main import app
from nexus.conversations.worker import ConversationLinker
from nexus.recorder.spool import Spool
from tests.factories import BASH_TOOL, make_record

DAY_MS = 86_400_000
OLD, NEW = 120, 15


def nexus(tmp_path, *args: str, input: str | None = None):
    env = {"NEXUS_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(app, ["db", *args], env=env, input=input)


def seed(path) -> list:
    """OLD requests two months old with big unique bodies, then NEW recent ones; all linked into
    conversations by the real linker."""
    from nexus.store.sqlite import SqliteStore

    now = int(time.time() * 1000)
    old = [
        make_record(
            started_at_ms=now - 60 * DAY_MS + i,
            user_text=os.urandom(12_000).hex(),
            tools=[BASH_TOOL],
        )
        for i in range(OLD)
    ]
    new = [
        make_record(started_at_ms=now - 1000 + i, user_text=f"recent {i}", tools=[BASH_TOOL])
        for i in range(NEW)
    ]

    async def write() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            for start in range(0, len(old + new), 40):
                await store.write_batch((old + new)[start : start + 40])
            linker = ConversationLinker(store)  # as nexus serve links: nodes, keys, conversations
            for start in range(0, len(old + new), 40):
                await store.write_links(await linker.link_batch((old + new)[start : start + 40]))
        finally:
            await store.close()

    asyncio.run(write())
    return new


def stats(tmp_path, db: str) -> dict:
    result = nexus(tmp_path, "stats", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def on_disk(path) -> int:
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def test_stats_counts_rows_content_and_the_spool_backlog(tmp_path):
    db = tmp_path / "nexus.db"
    seed(db)
    spool = Spool(tmp_path / "data" / "spool" / "3000")
    spool.append(make_record().exchange)
    data = stats(tmp_path, f"sqlite:///{db}")
    assert data["requests"] == OLD + NEW
    assert data["bytes_received"] > data["unique_content_bytes"] > OLD * 24_000
    assert data["database_bytes"] > 0 and data["blobs"] > 0
    assert data["oldest_ms"] < data["newest_ms"]
    # the Spool this test holds open is a running proxy's: its segment is live, not a backlog
    assert data["spool_live_files"] == 1 and data["spool_live_bytes"] > 0
    assert data["spool_files"] == 0 and data["spool_bytes"] == 0
    spool.close()
    left = stats(tmp_path, f"sqlite:///{db}")  # nobody appends to it any more: it waits
    assert (left["spool_files"], left["spool_live_files"]) == (1, 0) and left["spool_bytes"] > 0

    human = nexus(tmp_path, "stats", "--db", f"sqlite:///{db}")
    assert human.exit_code == 0
    assert f"{OLD + NEW:,}" in human.stdout and "unique content" in human.stdout


def test_prune_deletes_old_records_and_gives_the_space_back(tmp_path):
    db = tmp_path / "nexus.db"
    new = seed(db)
    before, file_before = stats(tmp_path, f"sqlite:///{db}"), on_disk(db)

    result = nexus(tmp_path, "prune", "--older-than", "30d", "--yes", "--db", f"sqlite:///{db}")
    assert result.exit_code == 0, result.output
    assert f"deleted {OLD:,} requests" in result.stderr

    after = stats(tmp_path, f"sqlite:///{db}")
    assert after["requests"] == NEW
    assert after["unique_content_bytes"] < before["unique_content_bytes"] / 10
    assert after["database_bytes"] < before["database_bytes"] / 4
    assert on_disk(db) < file_before / 4, "the file itself must shrink (incremental vacuum)"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {r[0] for r in conn.execute("SELECT id FROM requests")}
        assert kept == {r.id for r in new}
        for table, column in (
            ("links", "request_id"),
            ("request_blobs", "request_id"),
            ("request_text", "request_id"),
            ("link_nodes", "request_id"),
            ("link_keys", "request_id"),
            ("conversations", "last_request_id"),
        ):
            ids = {r[0] for r in conn.execute(f"SELECT {column} FROM {table}")}
            assert ids <= kept, f"{table} keeps rows of pruned requests"
            assert ids or table == "link_keys", f"{table} lost the rows of kept requests"

    async def read_back() -> None:
        from nexus.store.sqlite import SqliteStore

        store = SqliteStore(db)
        await store.open()
        try:
            for record in new:
                got = await store.get_request(record.id)
                assert got is not None and got.request_body == record.exchange.request_body
        finally:
            await store.close()

    asyncio.run(read_back())


def test_prune_asks_first_and_rejects_a_bad_age(tmp_path):
    db = tmp_path / "nexus.db"
    seed(db)
    declined = nexus(
        tmp_path, "prune", "--older-than", "30d", "--db", f"sqlite:///{db}", input="n\n"
    )
    assert declined.exit_code == 1
    assert stats(tmp_path, f"sqlite:///{db}")["requests"] == OLD + NEW

    bad = nexus(tmp_path, "prune", "--older-than", "a month", "--yes", "--db", f"sqlite:///{db}")
    assert bad.exit_code == 2 and "30d" in bad.stderr


def test_backup_writes_a_consistent_copy_and_never_overwrites(tmp_path):
    db = tmp_path / "nexus.db"
    seed(db)
    copy = tmp_path / "backups" / "nexus-copy.db"
    result = nexus(tmp_path, "backup", str(copy), "--db", f"sqlite:///{db}")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == OLD + NEW

    again = nexus(tmp_path, "backup", str(copy), "--db", f"sqlite:///{db}")
    assert again.exit_code == 1 and "exists" in again.stderr


def test_backup_of_postgres_prints_the_pg_dump_command_without_the_password(tmp_path):
    url = "postgresql://nexus:s3cret@db.internal:5432/nexus"
    result = nexus(tmp_path, "backup", "nexus.dump", "--db", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pg_dump ")
    assert "--format=custom" in result.stdout and "nexus.dump" in result.stdout
    assert "postgresql://nexus@db.internal:5432/nexus" in result.stdout
    assert "s3cret" not in result.output
    assert "PGPASSWORD" in result.stderr


def test_migrate_creates_the_schema_of_a_new_sqlite_file_and_is_idempotent(tmp_path):
    db = tmp_path / "fresh" / "nexus.db"
    first = nexus(tmp_path, "migrate", "--db", f"sqlite:///{db}")
    assert first.exit_code == 0, first.output
    assert "schema up to date" in first.stderr
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names and names[0].startswith("0001")
    second = nexus(tmp_path, "migrate", "--db", f"sqlite:///{db}")
    assert second.exit_code == 0 and f"({len(names)} migrations" in second.stderr


@pytest.mark.postgres
def test_migrate_and_stats_work_on_postgres(tmp_path, pg_url):
    import asyncpg

    schema = f"cli_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{pg_url}?search_path={schema}"
        result = nexus(tmp_path, "migrate", "--db", url)
        assert result.exit_code == 0, result.output
        data = stats(tmp_path, url)
        assert data["requests"] == 0 and data["database_bytes"] > 0
    finally:
        asyncio.run(admin(f'DROP SCHEMA "{schema}" CASCADE'))
