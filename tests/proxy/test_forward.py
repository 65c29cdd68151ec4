"""The proxy on real sockets: bytes through unchanged, every call recorded, faults passed faithfully."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import orjson
import pytest

from nexus.records import Outcome, RequestFilter
from tests.fakes.upstream import Reply, ToolUse

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def sdk(nexus):
    async with anthropic.AsyncAnthropic(
        base_url=nexus.endpoints.proxy_url, api_key="sk-ant-test-key-0123456789", max_retries=0
    ) as client:
        yield client


async def records(server):
    await server.flush()
    return (await server.store.list_requests(RequestFilter(), None, 500)).items


async def test_stream_bytes_reach_the_client_unchanged(nexus, fake_upstream):
    fake_upstream.record_responses = True
    fake_upstream.script(
        Reply(text="Hello there, friend.", thinking="let me think", chunk_size=7,
              tool_uses=(ToolUse(name="Bash", id="toolu_1", input={"command": "ls -la"}),))
    )  # fmt: skip
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST", nexus.endpoints.proxy_url + "/v1/messages?beta=true",
            json={**BODY, "stream": True}, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        ) as response:  # fmt: skip
            got = b"".join([chunk async for chunk in response.aiter_raw()])
            headers = response.headers
    (seen, sent) = fake_upstream.exchanges[0]
    assert got == sent.body
    assert b"event: ping" in got and b"signature_delta" in got
    assert headers["request-id"] == {k.lower(): v for k, v in sent.headers}["request-id"]
    assert headers["x-nexus-request-id"]
    assert float(headers["x-nexus-overhead-ms"]) >= 0
    assert seen.query == "beta=true"
    (summary,) = await records(nexus)
    stored = await nexus.store.get_request(summary.id)
    assert stored.response_body == got
    message = orjson.loads(stored.response_message)
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][2]["input"] == {"command": "ls -la"}
    assert summary.is_streaming and summary.tool_use_count == 1


async def test_the_sdk_gets_through_nexus_what_it_gets_directly(nexus, sdk, fake_upstream):
    fake_upstream.script(Reply(text="same answer"), Reply(text="same answer"))
    async with anthropic.AsyncAnthropic(
        base_url=fake_upstream.url, api_key="k", max_retries=0
    ) as direct:
        a = await direct.messages.create(**BODY)
    b = await sdk.messages.create(**BODY)
    assert a.model_dump(exclude={"id"}) == b.model_dump(exclude={"id"})
    async with sdk.messages.stream(**BODY) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text.startswith("You said: hi")
    rows = await records(nexus)
    assert len(rows) == 2
    streamed = next(r for r in rows if r.is_streaming)
    assert streamed.usage.output_tokens == final.usage.output_tokens
    assert streamed.usage.input_tokens == final.usage.input_tokens
    assert streamed.user_preview == "hi" and streamed.reply_preview.startswith("You said: hi")


async def test_fifty_concurrent_streams_complete_and_are_all_recorded(nexus, sdk, fake_upstream):
    fake_upstream.responder = lambda seen: Reply(text="x" * 400, delay_between_events_s=0.002)
    client = sdk

    async def one(i: int) -> str:
        body = {**BODY, "messages": [{"role": "user", "content": f"stream {i}"}]}
        async with client.messages.stream(**body) as stream:
            return (await stream.get_final_message()).content[0].text

    texts = await asyncio.gather(*(one(i) for i in range(50)))
    assert texts == ["x" * 400] * 50
    rows = await records(nexus)
    assert len(rows) == 50
    assert {r.user_preview for r in rows} == {f"stream {i}" for i in range(50)}
    assert all(r.outcome is Outcome.COMPLETE and r.status == 200 for r in rows)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (429, "rate_limit_error"),
     (500, "api_error"), (529, "overloaded_error")],
)  # fmt: skip
async def test_upstream_errors_pass_through_unchanged(nexus, fake_upstream, status, error_type):
    fake_upstream.record_responses = True
    fake_upstream.script(Reply(status=status, retry_after="7" if status == 429 else None))
    async with httpx.AsyncClient() as client:
        response = await client.post(nexus.endpoints.proxy_url + "/v1/messages", json=BODY)
    (_, sent) = fake_upstream.exchanges[0]
    assert response.status_code == status
    assert response.content == sent.body
    assert response.json()["error"]["type"] == error_type
    if status == 429:
        assert response.headers["retry-after"] == "7"
    (row,) = await records(nexus)
    assert row.status == status and row.outcome is Outcome.COMPLETE


async def test_unreachable_upstream_is_a_502_in_anthropics_shape(start_nexus):
    server = await start_nexus(upstream_url="http://127.0.0.1:9")
    async with httpx.AsyncClient() as client:
        response = await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY)
    assert response.status_code == 502
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "api_error"
    (row,) = await records(server)
    assert row.outcome is Outcome.UPSTREAM_UNREACHABLE and row.status == 502


async def test_upstream_timeout_is_a_504_and_the_next_request_is_served(start_nexus, fake_upstream):
    server = await start_nexus(upstream_timeout_s=0.3)
    fake_upstream.script(Reply(delay_before_headers_s=2.0), Reply(text="fine"))
    async with httpx.AsyncClient() as client:
        slow = await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY)
        fast = await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY)
    assert slow.status_code == 504 and slow.json()["error"]["type"] == "timeout_error"
    assert fast.status_code == 200 and fast.json()["content"][0]["text"] == "fine"
    outcomes = {r.outcome for r in await records(server)}
    assert outcomes == {Outcome.UPSTREAM_TIMEOUT, Outcome.COMPLETE}


async def test_a_reset_mid_stream_ends_the_clients_stream_and_is_recorded(nexus, fake_upstream):
    fake_upstream.script(Reply(text="a long answer " * 20, reset_after_events=4))
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):
            async with client.stream(
                "POST", nexus.endpoints.proxy_url + "/v1/messages", json={**BODY, "stream": True}
            ) as response:
                async for _ in response.aiter_raw():
                    pass
    (row,) = await records(nexus)
    assert row.outcome is Outcome.UPSTREAM_RESET
    assert "broke off" in row.error
    stored = await nexus.store.get_request(row.id)
    assert b"event: message_start" in stored.response_body


async def test_a_client_that_disconnects_mid_stream_is_recorded_and_upstream_cancelled(
    nexus, fake_upstream
):
    fake_upstream.script(Reply(text="tick " * 200, delay_between_events_s=0.05, text_chunk_chars=5))
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST", nexus.endpoints.proxy_url + "/v1/messages", json={**BODY, "stream": True}
        ) as response:
            async for chunk in response.aiter_raw():
                if b"content_block_delta" in chunk:
                    break
    rows = []
    for _ in range(100):
        rows = await records(nexus)
        if rows:
            break
        await asyncio.sleep(0.05)
    (row,) = rows
    assert row.outcome is Outcome.CLIENT_DISCONNECTED
    stored = await nexus.store.get_request(row.id)
    assert b"message_stop" not in stored.response_body


@pytest.mark.parametrize(
    ("content", "headers", "status", "needle"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b'{"model": "\xff\xfe"}', {}, 400, "not valid JSON"),
        (b"", {}, 400, "empty"),
        (b"{}", {"host": "../../etc/passwd"}, 400, "Host"),
        (b"{}", {"host": "evil/host"}, 400, "Host"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_the_next_request_is_served(
    nexus, fake_upstream, content, headers, status, needle
):
    async with httpx.AsyncClient() as client:
        bad = await client.post(
            nexus.endpoints.proxy_url + "/v1/messages", content=content, headers=headers
        )
        good = await client.post(nexus.endpoints.proxy_url + "/v1/messages", json=BODY)
    assert bad.status_code == status
    assert (
        bad.json()["type"] == "error" and needle.lower() in bad.json()["error"]["message"].lower()
    )
    assert good.status_code == 200
    assert len(fake_upstream.requests) == 1


async def test_a_body_over_the_limit_is_refused_with_413(start_nexus, fake_upstream):
    server = await start_nexus(max_body_bytes=10_000)
    async with httpx.AsyncClient() as client:
        big = await client.post(
            server.endpoints.proxy_url + "/v1/messages", content=b"{" + b" " * 20_000 + b"}"
        )
        ok = await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY)
    assert big.status_code == 413
    assert big.json()["error"]["type"] == "request_too_large"
    assert ok.status_code == 200 and not [r for r in fake_upstream.requests if len(r.body) > 10_000]
    refused = [r for r in await records(server) if r.status == 413]
    assert len(refused) == 1 and refused[0].outcome is Outcome.REJECTED


async def test_other_paths_pass_through_with_method_and_query(nexus, fake_upstream):
    async with httpx.AsyncClient() as client:
        models = await client.get(nexus.endpoints.proxy_url + "/v1/models?limit=2")
        root = await client.head(nexus.endpoints.proxy_url + "/")
        health = await client.get(nexus.endpoints.proxy_url + "/health")
        counted = await client.post(
            nexus.endpoints.proxy_url + "/v1/messages/count_tokens?beta=true", json=BODY
        )
    assert models.status_code == 200 and models.json()["data"]
    assert root.status_code == 404 and health.json()["status"] == "ok"  # HEAD /: the upstream's 404
    assert counted.json()["input_tokens"] > 0
    assert [(r.method, r.path, r.query) for r in fake_upstream.requests] == [
        ("GET", "/v1/models", "limit=2"), ("HEAD", "/", ""),
        ("POST", "/v1/messages/count_tokens", "beta=true"),
    ]  # fmt: skip
    assert {r.path for r in await records(nexus)} == {
        "/v1/models",
        "/",
        "/v1/messages/count_tokens",
    }


async def test_pass_through_auth_and_headers_reach_upstream_untouched(nexus, fake_upstream):
    headers = {
        "authorization": "Bearer sk-ant-oat01-personal", "anthropic-beta": "a-1,b-2",
        "x-claude-code-session-id": "3f1e6c1a-0000-4000-8000-000000000001", "user-agent": "claude-cli/2.1",
        "anthropic-version": "2023-06-01",
    }  # fmt: skip
    async with httpx.AsyncClient() as client:
        await client.post(nexus.endpoints.proxy_url + "/v1/messages", json=BODY, headers=headers)
    (seen,) = fake_upstream.requests
    for name, value in headers.items():
        assert seen.header(name) == value
    assert seen.header("connection") is None or seen.header("connection").lower() == "keep-alive"
    (row,) = await records(nexus)
    assert row.session_id == "3f1e6c1a-0000-4000-8000-000000000001"
    stored = await nexus.store.get_request(row.id)
    assert "sk-ant-oat01-personal" not in repr(stored.request_headers)


async def test_records_survive_a_restart(start_nexus):
    first = await start_nexus()
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            await client.post(first.endpoints.proxy_url + "/v1/messages", json=BODY)
    await first.flush()
    await first.stop()
    second = await start_nexus()
    assert len(await records(second)) == 3


async def test_a_restart_on_another_port_replays_what_the_last_run_left_in_its_spool(
    start_nexus, tmp_path
):
    from nexus.recorder.spool import Spool, folder_name
    from tests.factories import kill_spool, make_record

    first = await start_nexus()  # makes the database: the folder is named after its id
    database_id = await first.store.database_id()
    await first.stop()
    leftover = make_record().exchange
    folder = tmp_path / "data" / "spool" / folder_name(4999, database_id)
    old = Spool(folder)
    old.append(leftover)
    kill_spool(old)  # what kill -9 leaves: the segment and no lock
    server = await start_nexus()
    rows = await records(server)
    assert [r.id for r in rows] == [leftover.id]
    assert not folder.exists()
