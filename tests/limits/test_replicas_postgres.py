"""Limits across two ``nexus serve`` replicas sharing one Postgres: a person's per-minute limit and
dollar budget are shared (counter rows read by both), another person is unaffected, and every call
— refused ones included — is in the records once."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from nexus.records import Usage
from tests.fakes.upstream import Reply
from tests.limits.helpers import burst, call, write_team_host
from tests.limits.test_serve_sqlite import _minute_with_room
from tests.store.test_replicas import schema_url  # noqa: F401 - the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CALL_USD = 0.15  # claude-opus-4-8, 20 000 input + 2 000 output tokens
SYNC_S = 1.5  # > the 1 s counter read interval plus the recorder's delay


async def _stored(conn: asyncpg.Connection, count: int) -> None:
    async with asyncio.timeout(20):
        while await conn.fetchval("SELECT count(*) FROM requests") < count:
            await asyncio.sleep(0.1)


async def test_two_replicas_share_limits_and_lose_no_record(
    nexus_process,
    schema_url,  # noqa: F811
    pg_url,
    fake_upstream,
    tmp_path,
):
    url, schema = schema_url
    fake_upstream.responder = lambda request: Reply(
        text="ok", usage=Usage(input_tokens=20_000, output_tokens=2_000)
    )
    budget = 10 * CALL_USD
    write_team_host(
        tmp_path / "credentials",
        {
            "clients": {
                "alice": {"requests_per_minute": 10},
                "bob": {"usd_per_day": budget},
            }
        },
    )
    a, b = await asyncio.gather(nexus_process(url), nexus_process(url))
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    sent = 0
    try:
        # Per-minute limit: 6 on replica A, then (once B has read A's counters) 8 on B → 4 pass.
        await _minute_with_room(25)
        first = await burst(a.proxy_url, "alice", 6)
        sent += 6
        await _stored(conn, sent)
        await asyncio.sleep(SYNC_S)
        second = await burst(b.proxy_url, "alice", 8)
        sent += 8
        assert [r.status_code for r in first] == [200] * 6
        assert sorted(r.status_code for r in second) == [200] * 4 + [429] * 4
        for refused in (r for r in second if r.status_code == 429):
            assert refused.json()["error"]["type"] == "rate_limit_error"
            assert "requests per minute for client alice@team.example" in refused.text
            assert 1 <= int(refused.headers["retry-after"]) <= 60

        # Dollar budget: bob calls both replicas at once, at a pace like a busy agent (5 calls a
        # second on each), until both refuse.
        allowed = refused = 0
        async with httpx.AsyncClient(timeout=30) as client:
            both_refused = False
            while not both_refused and allowed < 100:
                answers = await asyncio.gather(
                    call(client, a.proxy_url, "bob"), call(client, b.proxy_url, "bob")
                )
                sent += 2
                allowed += sum(r.status_code == 200 for r in answers)
                refused += sum(r.status_code == 429 for r in answers)
                both_refused = all(r.status_code == 429 for r in answers)
                await asyncio.sleep(0.2)
        await _stored(conn, sent)
        spent = (
            float(
                await conn.fetchval(
                    "SELECT sum(cost_usd_micros) FROM requests WHERE client_key_id = $1 AND status = 200",
                    "bob@team.example",
                )
            )
            / 1e6
        )
        print(
            f"replicas: alice rpm 10 → A 6/6, B {sum(r.status_code == 200 for r in second)}/8; "
            f"bob budget ${budget:.2f}: allowed {allowed}, refused {refused}, spent ${spent:.2f} "
            f"(overshoot {allowed - 10} calls)"
        )
        # docs/limits.md: each replica may admit what it sees in about a second, plus in flight:
        # 2 replicas × 5 calls/s × 1.5 s + 2 in flight.
        assert 10 <= allowed <= 10 + 17
        assert both_refused

        total = await conn.fetchval("SELECT count(*) FROM requests")
        limited = await conn.fetchval(
            "SELECT count(*) FROM requests WHERE status = 429 AND outcome = 'rejected'"
        )
        assert total == sent  # nothing lost, refused calls included
        assert limited == 4 + refused
        rows = await conn.fetch("SELECT DISTINCT replica FROM limit_counters")
        assert len(rows) == 2  # both replicas' recorders wrote their own counter rows
    finally:
        await conn.close()
    codes = await asyncio.gather(a.terminate(), b.terminate())
    assert codes == [0, 0], "".join(a.log + b.log)
