"""Two ``nexus serve`` processes on one Postgres at once (a team's replicas behind one proxy):
migrations race safely, counts add up, no id is written twice, the events table stays consistent."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CALLS_EACH = 60


@pytest.fixture
async def schema_url(pg_url):
    """``pg_url`` with every connection's search_path on a fresh, empty schema."""
    name = f"replicas_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_url)
    await conn.execute(f'CREATE SCHEMA "{name}"')
    yield f"{pg_url}?search_path={name}", name
    await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    await conn.close()


async def call_many(proxy_url: str, n: int, session: str) -> list[str]:
    async def one(client: httpx.AsyncClient, i: int) -> str:
        response = await client.post(
            proxy_url + "/v1/messages",
            json={
                "model": "claude-opus-4-8",
                "max_tokens": 100,
                "stream": i % 2 == 0,
                "messages": [{"role": "user", "content": f"{session} call {i}"}],
            },
            headers={"x-claude-code-session-id": session},
        )
        assert response.status_code == 200, response.text
        return response.headers["x-nexus-request-id"]

    async with httpx.AsyncClient(timeout=20) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(n))))


async def test_two_processes_share_one_postgres_without_losing_or_doubling_records(
    nexus_process, schema_url, pg_url
):
    url, schema = schema_url
    # Started together: both apply migrations at once, serialised by the advisory lock.
    a, b = await asyncio.gather(nexus_process(url), nexus_process(url))
    ids_a, ids_b = await asyncio.gather(
        call_many(a.proxy_url, CALLS_EACH, str(uuid.uuid4())),
        call_many(b.proxy_url, CALLS_EACH, str(uuid.uuid4())),
    )
    codes = await asyncio.gather(a.terminate(), b.terminate())  # graceful: writers drain
    assert codes == [0, 0], "".join(a.log + b.log)

    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    try:
        stored = [r[0] for r in await conn.fetch("SELECT id FROM requests")]
        migrations = [r[0] for r in await conn.fetch("SELECT name FROM _migrations")]
        events = await conn.fetch("SELECT seq, kind, ref_id FROM events ORDER BY seq")
        orphans = await conn.fetchval(
            "SELECT count(*) FROM events e WHERE kind = 'request' "
            "AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = e.ref_id)"
        )
    finally:
        await conn.close()

    assert len(set(ids_a + ids_b)) == 2 * CALLS_EACH
    assert len(stored) == len(set(stored)) == 2 * CALLS_EACH
    assert set(stored) == set(ids_a) | set(ids_b)
    assert len(migrations) == len(set(migrations)) > 0
    request_events = [e["ref_id"] for e in events if e["kind"] == "request"]
    assert sorted(request_events) == sorted(stored), "one request event per stored request"
    assert len({e["seq"] for e in events}) == len(events)
    assert orphans == 0
