"""Nothing a client sends stops the recorder (issue 14, items 1-3), through a real ``nexus serve``
on SQLite and on Postgres: JSON nested deeper than orjson writes, U+0000 in a prompt or in the
model's reply, and bodies built to make a tokenizer or a regex quadratic. Each is stored (its
raw bytes exactly), the recorder process is never restarted, and the calls after it are stored at
once. A record that truly cannot be stored is set aside as a dead letter (test_dead_letters.py)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
import orjson
import pytest

from nexus.store import build_store
from tests.fakes.upstream import Reply

pytestmark = pytest.mark.slow

BODY = {"model": "claude-opus-4-8", "max_tokens": 100}


async def stored(url: str, ids: list[str], timeout_s: float) -> dict[str, Any]:
    """Wait until every id is stored; returns them read back (StoredRequest by id)."""
    store = build_store(url)
    await store.open()
    try:
        deadline = time.monotonic() + timeout_s
        found: dict[str, Any] = {}
        while True:
            for request_id in ids:
                if request_id not in found and (got := await store.get_request(request_id)):
                    found[request_id] = got
            if len(found) == len(ids) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)
    finally:
        await store.close()


async def send(client: httpx.AsyncClient, url: str, content: bytes) -> str:
    """Posts one Messages body through Nexus; the id Nexus gave the call (which must succeed)."""
    response = await client.post(
        url + "/v1/messages", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response.headers["x-nexus-request-id"]


async def normal_calls(client: httpx.AsyncClient, url: str, n: int) -> list[str]:
    return [
        await send(client, url, orjson.dumps(
            {**BODY, "messages": [{"role": "user", "content": f"an ordinary call {i}"}]}
        ))
        for i in range(n)
    ]  # fmt: skip


def deep_body(depth: int) -> bytes:
    """A valid Messages body whose user content holds arrays nested ``depth`` deep."""
    nested = b"[" * depth + b"]" * depth
    return (
        b'{"model":"claude-opus-4-8","max_tokens":100,"messages":[{"role":"user","content":'
        b'[{"type":"text","text":"deep"}],"extra":' + nested + b"}]}"
    )


def assert_recorder_never_restarted(log: list[str]) -> None:
    text = "".join(log)
    assert "recorder process exited" not in text, text[-3000:]


async def test_deep_json_is_stored_and_the_recorder_keeps_recording(
    serve_db_url, nexus_process, fake_upstream
):
    """Item 1: nested 255-1023 deep, orjson.loads takes it and orjson.dumps refused it."""
    nexus = await nexus_process(serve_db_url)
    bodies = [deep_body(300), deep_body(1000)]
    async with httpx.AsyncClient(timeout=30) as client:
        deep_ids = [await send(client, nexus.proxy_url, body) for body in bodies]
        later = await normal_calls(client, nexus.proxy_url, 5)
    got = await stored(serve_db_url, deep_ids + later, timeout_s=15)
    assert set(got) == set(deep_ids + later), "a deep body stopped the recording"
    assert [got[i].request_body for i in deep_ids] == bodies  # the exact bytes, whole
    assert_recorder_never_restarted(nexus.log)


async def test_nul_in_a_prompt_and_in_the_reply_is_stored(
    serve_db_url, nexus_process, fake_upstream
):
    """Item 2: Postgres ``text`` holds no U+0000; previews and search text are text columns."""
    nexus = await nexus_process(serve_db_url)
    body = (
        b'{"model":"claude-opus-4-8","max_tokens":100,"metadata":{"user_id":"user_x_session_a\\u0000"},'
        b'"messages":[{"role":"user","content":"before\\u0000after"}]}'
    )
    async with httpx.AsyncClient(timeout=30) as client:
        ids = []
        for stream in (False, True):
            fake_upstream.script(Reply(text="reply\x00with a NUL", stream=stream))
            ids.append(await send(client, nexus.proxy_url, body))
        later = await normal_calls(client, nexus.proxy_url, 3)
    got = await stored(serve_db_url, ids + later, timeout_s=15)
    assert set(got) == set(ids + later), "a NUL stopped the recording"
    for request_id in ids:
        request = got[request_id]
        assert request.request_body == body  # raw bytes untouched
        assert request.summary.user_preview.startswith("before")
        assert request.summary.reply_preview.startswith("reply")
    assert_recorder_never_restarted(nexus.log)


@pytest.mark.parametrize(
    ("path", "hostile"),
    [
        # An unterminated string of escaped quotes: a tokenizer that retries the string from
        # every quote is quadratic (130 KB stalled the recorder 67 s). /v1/messages refuses it
        # (and keeps 4 KB of it); a path Nexus passes through is forwarded and stored whole.
        pytest.param("/v1/messages/batches", b'{"' + b'\\"' * 200_000, id="escaped-quotes"),
        # Valid JSON: opening reminder tags that never close, for a lazy regex to rescan.
        pytest.param(
            "/v1/messages",
            b'{"model":"claude-opus-4-8","max_tokens":1,"messages":[{"role":"user","content":"'
            + b"<system-reminder>" * 25_000
            + b'"}]}',
            id="unclosed-reminders",
        ),
    ],
)
async def test_a_body_built_for_quadratic_work_does_not_delay_later_records(
    serve_db_url, nexus_process, fake_upstream, path, hostile
):
    """Item 3: the work per body is linear in its size, whatever its bytes."""
    nexus = await nexus_process(serve_db_url)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            nexus.proxy_url + path, content=hostile, headers={"content-type": "application/json"}
        )
        hostile_id = response.headers["x-nexus-request-id"]
        await asyncio.sleep(0.5)  # the recorder has it in hand
        sent = time.monotonic()
        later = await normal_calls(client, nexus.proxy_url, 2)
    got = await stored(serve_db_url, later, timeout_s=5)
    waited = time.monotonic() - sent
    assert set(got) == set(later), f"later calls not stored after {waited:.1f} s"
    assert (await stored(serve_db_url, [hostile_id], 5))[hostile_id].request_body == hostile
    assert_recorder_never_restarted(nexus.log)


async def test_identifiers_too_long_for_an_index_are_stored(
    serve_db_url, nexus_process, fake_upstream
):
    """A model, session or agent id of kilobytes of random text: Postgres refuses an index entry
    past 8 KB, so the record would only be a dead letter. They are cut to IDENT_CHARS instead."""
    from nexus.recorder.derive import IDENT_CHARS

    nexus = await nexus_process(serve_db_url)
    model = os.urandom(5000).hex()
    body = orjson.dumps({**BODY, "model": model, "messages": [{"role": "user", "content": "x"}]})
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            nexus.proxy_url + "/v1/messages",
            content=body,
            headers={
                "x-claude-code-session-id": os.urandom(5000).hex(),
                "x-claude-code-agent-id": os.urandom(5000).hex(),
            },
        )
        request_id = response.headers["x-nexus-request-id"]
        later = await normal_calls(client, nexus.proxy_url, 2)
    got = await stored(serve_db_url, [request_id, *later], timeout_s=15)
    assert set(got) == {request_id, *later}
    assert got[request_id].request_body == body
    assert got[request_id].summary.model == model[:IDENT_CHARS]
    assert_recorder_never_restarted(nexus.log)
