"""SQLite's planner statistics are kept true as the store grows (``SqliteCore.refresh_statistics``).

Unanalyzed, SQLite chose the host/account index for a usage sum scoped to one account, and
``usage_now`` over 100 000 requests took 352 ms (53 ms analyzed; ``benchmarks/mcp_tools.py``).
"""

from __future__ import annotations

import pytest

from nexus.store.sqlite import SqliteStore
from nexus.store.sqlite import connector as sqlite_core
from tests.factories import make_record


async def _is_analyzed(store: SqliteStore) -> bool:
    row = await store._fetchone("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")
    if not row or not row[0]:
        return False
    return await store._fetchone("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'requests'") is not None


async def test_statistics_follow_the_requests_table_as_it_grows(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_core, "_STATISTICS_EVERY", 500)
    store = SqliteStore(tmp_path / "nexus.db")
    await store.open()
    try:
        assert not await _is_analyzed(store)  # empty: nothing worth analyzing
        for start in range(0, 1200, 100):
            await store.write_batch([make_record() for _ in range(100)])
            if start == 300:
                assert not await _is_analyzed(store), "a small table is left alone"
        assert await _is_analyzed(store)  # analyzed at the 1 000th record
        assert await store.refresh_statistics() is False  # 1 200 < 2 x 1 000: still true
        monkeypatch.setattr(sqlite_core, "_STATISTICS_EVERY", 10**9)
        await store.write_batch([make_record() for _ in range(800)])
        assert await store.refresh_statistics() is True  # doubled: analyzed again
    finally:
        await store.close()


async def test_a_grown_store_without_statistics_is_analyzed_when_opened(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_core, "_STATISTICS_EVERY", 10**9)  # only open() may analyze
    store = SqliteStore(tmp_path / "nexus.db")
    await store.open()
    try:
        await store.write_batch([make_record() for _ in range(1500)])
        assert not await _is_analyzed(store)
    finally:
        await store.close()
    reopened = SqliteStore(tmp_path / "nexus.db")
    await reopened.open()
    try:
        assert await _is_analyzed(reopened)
        assert await reopened.refresh_statistics() is False  # and not again until it doubles
    finally:
        await reopened.close()


pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.postgres
async def test_postgres_link_tables_are_analyzed_as_the_recorder_writes(pg_url, monkeypatch):
    """With autovacuum off (or not yet run), a fresh store had no statistics and the linker's key
    lookups scanned every key of their scope: the recorder fell minutes behind on Postgres."""
    from nexus.store.postgres import connector as pg_core
    from tests.fakes.stores import drop_pg_schema, make_pg_store

    monkeypatch.setattr(pg_core, "_STATISTICS_FIRST", 50)
    store, schema = await make_pg_store(pg_url)

    async def analyzed() -> set[str]:
        rows = await store._fetchall(  # reltuples is -1 until a table is analyzed (or vacuumed)
            "SELECT relname FROM pg_class"
            " WHERE relnamespace = current_schema()::regnamespace AND reltuples >= 0"
        )
        return {row[0] for row in rows}

    try:
        await store.write_batch([make_record() for _ in range(40)])
        assert not await analyzed() & {"link_keys", "link_nodes"}
        await store.write_batch([make_record() for _ in range(20)])
        assert {"link_keys", "link_nodes", "requests"} <= await analyzed()
    finally:
        await store.close()
        await drop_pg_schema(pg_url, schema)


@pytest.mark.postgres
async def test_the_key_lookup_generic_plan_reads_the_key_index_not_the_whole_table(pg_url):
    """The recorder's connections run each statement as a generic plan after a few runs. With
    ``key = ANY(array)`` that plan read every row of link_keys for each lookup (a seq scan chosen
    at a few thousand keys, its cost growing with the store): server CPU per linked record."""
    from nexus.store.dialect import POSTGRES
    from nexus.store.queries import load
    from tests.fakes.stores import drop_pg_schema, make_pg_store

    store, schema = await make_pg_store(pg_url)
    try:
        await store.connector.execute(
            "INSERT INTO link_keys (scope, kind, key, started_at_ms, request_id, ordinal)"
            " SELECT 'host:h', (ARRAY['c', 'r', 'w'])[1 + n % 3], md5(n::text), n, 'r' || n, 0"
            " FROM generate_series(1, 3000) AS n",
            (),
        )
        await store.connector.execute("ANALYZE link_keys", ())
        text, names = POSTGRES.compile(load("postgres")["conv_find_keys"])
        types = {"kinds": "text[]", "keys": "text[]", "scope": "text", "before_id": "text",
                 "after_id": "text"}  # fmt: skip
        values = {"kinds": "ARRAY['c','r']", "keys": "ARRAY['a','b']", "scope": "'host:h'",
                  "before_ms": str(2**62), "before_id": "''", "after_ms": "-1", "after_id": "''",
                  "since_ms": str(-(2**62)), "limit": "200"}  # fmt: skip
        async with store.connector.transaction() as tx:
            await tx.execute("SET LOCAL plan_cache_mode = force_generic_plan", ())
            await tx.execute(
                f"PREPARE find_keys ({', '.join(types.get(n, 'bigint') for n in names)}) AS {text}",
                (),
            )
            plan = await tx.fetchall(
                f"EXPLAIN EXECUTE find_keys ({', '.join(values[n] for n in names)})", ()
            )
            await tx.execute("DEALLOCATE find_keys", ())
        plan_text = "\n".join(row[0] for row in plan)
        assert "Seq Scan on link_keys" not in plan_text, plan_text
        assert "link_keys_pkey" in plan_text, plan_text
    finally:
        await store.close()
        await drop_pg_schema(pg_url, schema)
