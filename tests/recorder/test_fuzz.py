"""Fuzz: random and hostile bodies through a real ``nexus serve`` (issue 14). Whatever a client
sends — nested deep, wide, NUL, invalid UTF-8, lone surrogates, unterminated strings, runs of
escaped quotes, huge numbers, identifiers too long for an index, truncated or random bytes, to a path Nexus checks and to one it
passes through — the recorder never exits, every call that got a request id is stored or set
aside as a dead letter with its reason, and an ordinary call sent between them is stored within
2 s. A seeded generator: the same run every time, bounded in count and time.

Run with ``-s`` to see the figures (sent, stored, dead-lettered, max delay)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import orjson
import pytest

from nexus.store import build_store
from tests.recorder.test_poison import (
    BODY,
    assert_recorder_never_restarted,
)

pytestmark = pytest.mark.slow

SEED = 14
HOSTILE_CALLS = 160
CANARY_EVERY = 10
STORED_WITHIN_S = 2.0


def _nested(rng: random.Random, depth: int) -> bytes:
    opener, closer = rng.choice([(b"[", b"]"), (b'{"k":', b"}")])
    return opener * depth + b"0" + closer * depth


def _message_body(content: bytes, *, stream: bool = False) -> bytes:
    return (
        b'{"model":"claude-opus-4-8","max_tokens":16,"stream":'
        + (b"true" if stream else b"false")
        + b',"messages":[{"role":"user","content":'
        + content
        + b"}]}"
    )


def hostile_body(rng: random.Random) -> bytes:
    kind = rng.randrange(15)
    if kind == 0:  # deep, within what a JSON parser takes
        return _message_body(
            b'[{"type":"text","text":"d","x":' + _nested(rng, rng.randint(200, 1023)) + b"}]"
        )
    if kind == 1:  # deeper than any parser takes
        return _message_body(_nested(rng, rng.randint(1024, 5000)))
    if kind == 2:  # wide
        items = b",".join(
            b'{"role":"user","content":"w%d"}' % i for i in range(rng.randint(1000, 5000))
        )
        return b'{"model":"claude-opus-4-8","max_tokens":1,"messages":[' + items + b"]}"
    if kind == 3:  # NUL, escaped (valid JSON) in text, model and session
        return (
            b'{"model":"claude\\u0000x","max_tokens":1,"metadata":{"user_id":"u_session_\\u0000"},'
            b'"messages":[{"role":"user","content":"a\\u0000b'
            + b"\\u0000" * rng.randint(1, 500)
            + b'"}]}'
        )
    if kind == 4:  # raw NUL and control bytes (invalid JSON)
        return _message_body(
            b'"' + bytes(rng.choice([0, 1, 7, 31]) for _ in range(rng.randint(1, 3000))) + b'"'
        )
    if kind == 5:  # invalid UTF-8
        return _message_body(
            b'"' + bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 5000))) + b'"'
        )
    if kind == 6:  # lone surrogates
        return _message_body(b'"\\ud800\\udc00\\udfff' + b"\\ud83d" * rng.randint(1, 100) + b'"')
    if kind == 7:  # unterminated string
        return _message_body(b'"never closed ' + b"a" * rng.randint(0, 100_000))[:-3]
    if kind == 8:  # a run of escaped quotes after an opening quote
        return b'{"' + b'\\"' * rng.randint(1000, 150_000)
    if kind == 9:  # huge numbers
        number = rng.choice(
            [b"1e999999", b"-1e-999999", b"9" * rng.randint(30, 5000), b"1.5e308", b"-0.0"]
        )
        return b'{"model":"claude-opus-4-8","max_tokens":' + number + b',"messages":[]}'
    if kind == 10:  # a valid body cut anywhere
        body = _message_body(
            orjson.dumps("text " * rng.randint(1, 2000)), stream=rng.random() < 0.5
        )
        return body[: rng.randint(0, len(body))]
    if kind == 11:  # random bytes
        return rng.randbytes(rng.randint(0, 20_000))
    if kind == 12:  # unclosed reminders and odd blocks in a valid body
        text = "<system-reminder>" * rng.randint(1, 20_000) + "</system-reminder" * rng.randint(
            0, 3
        )
        blocks = [{"type": "text", "text": text}, {"type": "tool_result", "content": None}, 7, None]
        return _message_body(orjson.dumps(blocks), stream=rng.random() < 0.5)
    if kind == 14:  # identifiers no index can hold: long random model and session ids
        model = rng.randbytes(rng.randint(3000, 8000)).hex()
        session = orjson.dumps({"session_id": rng.randbytes(6000).hex()}).decode()
        return orjson.dumps(
            {"model": model, "max_tokens": 1, "metadata": {"user_id": session}, "messages": []}
        )
    # wrong shapes: messages not a list, content a number, a top-level array or string
    return rng.choice([
        b'{"messages":{"role":"user"}}', b'{"messages":[1,2,3]}', b'[{"model":1}]', b'"a string"',
        b'{"model":["x"],"system":{"a":[' + b"1," * 10_000 + b'1]},"tools":7,"messages":[{"content":5}]}',
    ])  # fmt: skip


async def test_hostile_bodies_never_stop_the_recorder(
    serve_db_url: str,
    nexus_process: Any,
) -> None:
    nexus = await nexus_process(serve_db_url)
    async with asyncio.timeout(10):  # spawned beside the servers, right after the banner
        while (recorder := nexus.recorder_pid()) is None:
            await asyncio.sleep(0.05)
    rng = random.Random(SEED)
    sent: list[str] = []  # calls the proxy gave a request id: each must be stored or dead-lettered
    unrecorded = 0  # answered without a request id (a proxy error: not the recorder's to store)
    delays: list[float] = []
    store = build_store(serve_db_url)
    await store.open()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            # Warm up (the recorder's first batch imports and connects): not the bodies' doing.
            await _canary_delay(client, nexus.proxy_url, store, sent)
            started = time.monotonic()
            for n in range(HOSTILE_CALLS):
                path = "/v1/messages" if n % 3 else "/v1/messages/batches"  # checked, or passed on
                response = await client.post(
                    nexus.proxy_url + path,
                    content=hostile_body(rng),
                    headers={"content-type": "application/json"},
                )
                if request_id := response.headers.get("x-nexus-request-id"):
                    sent.append(request_id)
                else:
                    unrecorded += 1
                if n % CANARY_EVERY == CANARY_EVERY - 1:
                    delays.append(await _canary_delay(client, nexus.proxy_url, store, sent))
        found = await _stored_or_dead(store, sent, timeout_s=15)
        letters = {x.id: x for x in await store.list_dead_letters()}  # type: ignore[attr-defined]
    finally:
        await store.close()
    stored = found - set(letters)
    print(  # the figures for the report (pytest -s)
        f"\nfuzz {serve_db_url.split(':')[0]}: {HOSTILE_CALLS} hostile calls + {len(delays)} canaries "
        f"sent in {time.monotonic() - started:.1f} s; {len(sent)} got a request id; "
        f"{len(stored)} stored, {len(letters)} dead-lettered, {unrecorded} unrecorded (proxy "
        f"answered without an id); canary delay max {max(delays):.3f} s, "
        f"median {sorted(delays)[len(delays) // 2]:.3f} s"
    )
    assert found == set(sent), f"{len(set(sent) - found)} calls neither stored nor dead-lettered"
    assert all(letter.error for letter in letters.values())
    assert max(delays) <= STORED_WITHIN_S, delays
    assert nexus.recorder_pid() == recorder, "the recorder process was replaced"
    assert_recorder_never_restarted(nexus.log)


async def _canary_delay(client: httpx.AsyncClient, url: str, store: Any, sent: list[str]) -> float:
    """Seconds from an ordinary call's answer until it is stored (inf past the bound)."""
    body = {**BODY, "messages": [{"role": "user", "content": "canary"}]}
    response = await client.post(url + "/v1/messages", json=body)
    assert response.status_code == 200
    request_id = response.headers["x-nexus-request-id"]
    sent.append(request_id)
    answered = time.monotonic()
    while time.monotonic() - answered < STORED_WITHIN_S + 1:
        if await store.get_request(request_id) is not None:
            return time.monotonic() - answered
        await asyncio.sleep(0.02)
    return float("inf")


async def _stored_or_dead(store: Any, ids: list[str], timeout_s: float) -> set[str]:
    deadline = time.monotonic() + timeout_s
    found: set[str] = set()
    while True:
        dead = {x.id for x in await store.list_dead_letters()}
        for request_id in ids:
            if request_id not in found and (
                request_id in dead or await store.get_request(request_id) is not None
            ):
                found.add(request_id)
        if len(found) == len(set(ids)) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)
