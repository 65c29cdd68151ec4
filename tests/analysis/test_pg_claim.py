"""The Postgres claim statement itself, on two raw connections: SKIP LOCKED hands a row held by one
transaction's claim to no one else, without waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nexus.store import migrate, queries
from nexus.store.dialect import POSTGRES

T0 = 1_750_000_000_000
Q = queries.load("postgres")


def insert(job_id: str, conversation_id: str, now: int) -> tuple[str, list[Any]]:
    values = {"id": job_id, "conversation_id": conversation_id, "branch": "main"}
    prompt = {"prompt_version": "v1", "prompt_name": None, "prompt_text": None}
    return POSTGRES.bind(Q["jobs_insert"], {**values, **prompt, "now": now})


def claim(now: int, token: str) -> tuple[str, list[Any]]:
    return POSTGRES.bind(Q["jobs_claim"], {"now": now, "claim_token": token})


@pytest.fixture
async def pg(raw_pg_url: str) -> AsyncIterator[Any]:
    import asyncpg

    pool = await asyncpg.create_pool(raw_pg_url, min_size=2, max_size=2)
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('analysis_jobs') IS NOT NULL")
        if not exists:
            for name, sql in migrate.migrations("postgres"):
                if name.startswith(("0001", "0004", "0013_analysis_prompt")):
                    await conn.execute(sql)
        await conn.execute("TRUNCATE analysis_jobs, events")
        for i in range(3):
            sql, args = insert(f"job{i}", f"c{i}", T0 + i)
            await conn.execute(sql, *args)
    try:
        yield pool
    finally:
        await pool.close()


async def test_claim_skips_a_row_another_transaction_is_claiming(pg: Any) -> None:
    async with pg.acquire() as a, pg.acquire() as b:
        tx_a = a.transaction()
        await tx_a.start()
        row_a = await a.fetchrow(*_flat(claim(T0 + 10, "a")))
        # a holds job0 uncommitted; b must not wait for it nor take it.
        row_b = await asyncio.wait_for(b.fetchrow(*_flat(claim(T0 + 10, "b"))), 2)
        await tx_a.commit()
        assert (row_a["id"], row_b["id"]) == ("job0", "job1")
        rows = await a.fetch("SELECT id, state, claim_token FROM analysis_jobs ORDER BY id")
        assert [tuple(r) for r in rows] == [
            ("job0", "running", "a"),
            ("job1", "running", "b"),
            ("job2", "pending", None),
        ]


async def test_many_concurrent_claimers_share_out_jobs_exactly_once(pg: Any) -> None:
    async with pg.acquire() as conn:
        for i in range(3, 40):
            sql, args = insert(f"job{i}", f"c{i}", T0)
            await conn.execute(sql, *args)

    async def claimer(name: str) -> list[str]:
        got = []
        while True:
            async with pg.acquire() as conn:
                row = await conn.fetchrow(*_flat(claim(T0 + 10, name)))
            if row is None:
                return got
            got.append(row["id"])

    results = await asyncio.gather(claimer("a"), claimer("b"))
    claimed = results[0] + results[1]
    assert len(claimed) == 40 == len(set(claimed))


def _flat(statement: tuple[str, list[Any]]) -> list[Any]:
    return [statement[0], *statement[1]]
