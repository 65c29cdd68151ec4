"""The dead-letter rule through a real ``nexus serve``, on SQLite and Postgres: a record the store
refuses (here a trigger refuses one model, as a constraint or a bug would) is tried a few times,
then set aside with its error; the recorder moves on and stores the next calls; ``nexus db
stats``, ``nexus db dead-letters`` and ``nexus doctor`` show it; once the cause is gone,
``nexus db retry-dead-letters`` stores it, byte for byte."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from typing import Any

import httpx
import orjson
import pytest

from tests.recorder.test_poison import (
    BODY,
    assert_recorder_never_restarted,
    normal_calls,
    stored,
)

pytestmark = pytest.mark.slow

REFUSED_MODEL = "claude-refused-by-trigger"


async def refuse_model(url: str, *, on: bool, errcode: str = "raise_exception") -> None:
    """Make the database refuse (or accept again) requests of REFUSED_MODEL; on Postgres with the
    SQLSTATE ``errcode``."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        with conn:
            conn.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON requests WHEN NEW.model = '{REFUSED_MODEL}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
                if on
                else "DROP TRIGGER refuse"
            )
        conn.close()
        return
    import asyncpg

    base, schema = url.split("?search_path=")
    conn = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        if on:
            await conn.execute(f"""
                CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.model = '{REFUSED_MODEL}' THEN
                        RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = '{errcode}';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse BEFORE INSERT ON requests FOR EACH ROW EXECUTE FUNCTION refuse();
            """)
        else:
            await conn.execute("DROP TRIGGER refuse ON requests; DROP FUNCTION refuse()")
    finally:
        await conn.close()


async def cli(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nexus", *args, "--db", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ | (env or {}),
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode() + err.decode()


async def test_a_refused_record_is_dead_lettered_listed_and_retried(
    serve_db_url: str,
    nexus_process: Any,
) -> None:
    nexus = await nexus_process(serve_db_url)
    await refuse_model(serve_db_url, on=True)
    poison_body = orjson.dumps(
        {**BODY, "model": REFUSED_MODEL, "messages": [{"role": "user", "content": "refuse me"}]}
    )
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            nexus.proxy_url + "/v1/messages",
            content=poison_body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200
        poison_id = response.headers["x-nexus-request-id"]
        later = await normal_calls(client, nexus.proxy_url, 3)
    assert set(await stored(serve_db_url, later, timeout_s=15)) == set(later)

    async with asyncio.timeout(15):
        while True:
            code, text = await cli(serve_db_url, "db", "dead-letters", "--json")
            letters = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
            if letters:
                break
            await asyncio.sleep(0.2)
    assert code == 0
    [letter] = letters
    assert letter["id"] == poison_id and letter["stage"] == "store"
    assert "refused by a trigger" in letter["error"] and letter["attempts"] >= 2
    code, text = await cli(serve_db_url, "db", "stats", "--json")
    assert orjson.loads(text.splitlines()[0])["dead_letters"] == 1
    code, text = await cli(serve_db_url, "doctor", "--json")
    [database] = [orjson.loads(x) for x in text.splitlines() if '"database"' in x]
    assert database["state"] == "warn" and "1 dead letter could not" in database["detail"]
    assert poison_id not in await stored(serve_db_url, [poison_id], timeout_s=0)

    await refuse_model(serve_db_url, on=False)
    code, text = await cli(serve_db_url, "db", "retry-dead-letters", "--json")
    assert code == 0 and orjson.loads(text.splitlines()[0]) == {"stored": 1, "failed": 0}, text
    got = await stored(serve_db_url, [poison_id], timeout_s=5)
    assert got[poison_id].request_body == poison_body
    code, text = await cli(serve_db_url, "db", "dead-letters", "--json")
    assert not [line for line in text.splitlines() if line.startswith("{")]
    assert_recorder_never_restarted(nexus.log)


async def test_a_record_the_store_refuses_even_as_a_dead_letter_is_kept_in_a_file(
    nexus_process: Any, tmp_path: Any
) -> None:
    """Last resort: the store takes neither the record nor its dead letter (a full table, a bug):
    the frame goes to <data>/dead-letters/<id>.nxs, doctor says so, retry-dead-letters stores it."""
    url = f"sqlite:///{tmp_path / 'nexus.db'}"
    nexus = await nexus_process(url)
    await refuse_model(url, on=True)
    conn = sqlite3.connect(tmp_path / "nexus.db")
    with conn:
        conn.execute("CREATE TRIGGER refuse_letters BEFORE INSERT ON dead_letters "
                     "BEGIN SELECT RAISE(ABORT, 'no dead letters either'); END")  # fmt: skip
    poison_body = orjson.dumps(
        {**BODY, "model": REFUSED_MODEL, "messages": [{"role": "user", "content": "spill me"}]}
    )
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(nexus.proxy_url + "/v1/messages", content=poison_body)
        poison_id = response.headers["x-nexus-request-id"]
        later = await normal_calls(client, nexus.proxy_url, 3)
    assert set(await stored(url, later, timeout_s=15)) == set(later)
    spilled = tmp_path / "data" / "dead-letters" / f"{poison_id}.nxs"
    async with asyncio.timeout(10):
        while not spilled.exists():
            await asyncio.sleep(0.1)
    env = {"NEXUS_DATA_DIR": str(tmp_path / "data")}
    code, text = await cli(url, "doctor", "--json", env=env)
    [check] = [orjson.loads(x) for x in text.splitlines() if '"spilled"' in x]
    assert check["state"] == "warn" and "1 file" in check["detail"]

    with conn:
        conn.execute("DROP TRIGGER refuse_letters")
    conn.close()
    await refuse_model(url, on=False)
    code, text = await cli(url, "db", "retry-dead-letters", "--json", env=env)
    assert orjson.loads(text.splitlines()[0]) == {"stored": 1, "failed": 0}, text
    assert (await stored(url, [poison_id], timeout_s=5))[poison_id].request_body == poison_body
    assert not spilled.exists()
    assert_recorder_never_restarted(nexus.log)


@pytest.mark.postgres
async def test_a_database_that_cannot_take_writes_is_waited_out_not_dead_lettered(
    pg_url: str, nexus_process: Any
) -> None:
    """A failover to a read-only standby refuses every write alike: an outage, so the recorder
    waits and stores the record once writes work again; nothing is set aside."""
    import uuid

    import asyncpg

    schema = f"readonly_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{pg_url}?search_path={schema}"
    try:
        nexus = await nexus_process(url)
        await refuse_model(url, on=True, errcode="read_only_sql_transaction")
        body = orjson.dumps(
            {**BODY, "model": REFUSED_MODEL, "messages": [{"role": "user", "content": "wait"}]}
        )
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(nexus.proxy_url + "/v1/messages", content=body)
        request_id = response.headers["x-nexus-request-id"]
        await asyncio.sleep(3)  # a few retries of the batch
        code, text = await cli(url, "db", "dead-letters", "--json")
        assert code == 0 and not [x for x in text.splitlines() if x.startswith("{")], text
        await refuse_model(url, on=False)
        got = await stored(url, [request_id], timeout_s=20)
        assert got[request_id].request_body == body
        assert_recorder_never_restarted(nexus.log)
        assert await nexus.terminate() == 0
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
