"""The fake Anthropic upstream (``tests.fakes.upstream``) answers as Anthropic does: framed SSE and
JSON, scripted replies and faults, Claude Code's own turns (tool loops, sub-agents) and the captured
bodies replayed.

Past 400 lines: one test module per fake, as for every other fake here; its 24 tests each pin one
behaviour the other suites rely on, and they share the fixtures and bodies at the top.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from nexus.recorder.sse import assemble_json, assemble_sse
from nexus.records import Usage
from tests.fakes.upstream import (
    SUB_AGENT_PROMPT,
    ClaudeCodeResponder,
    FakeUpstream,
    Reply,
    SeenRequest,
    ToolUse,
)

CAPTURES = Path(__file__).parent.parent / "data" / "claude_code"
BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}
STREAM_BODY = {**BODY, "stream": True}


def event_names(raw: bytes) -> list[str]:
    return [line[7:] for line in raw.decode().split("\n") if line.startswith("event: ")]


async def test_streaming_call_gets_anthropic_framed_events(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="hello there", text_chunk_chars=5))
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_")
    assert event_names(response.content) == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for block in response.content.split(b"\n\n")[:-1]:
        name, data = block.split(b"\n")
        assert data.startswith(b"data: ") and orjson.loads(data[6:])["type"] == name[7:].decode()
    assembled = assemble_sse(response.content)
    assert assembled.is_complete and assembled.text == "hello there"


async def test_non_streaming_call_gets_the_whole_message(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=BODY)

    message = response.json()
    assert response.headers["content-type"] == "application/json"
    assert message["type"] == "message" and message["model"] == "claude-opus-4-8"
    assert message["content"] == [{"type": "text", "text": "You said: hi"}]
    assert message["stop_reason"] == "end_turn" and message["usage"]["output_tokens"] > 0


async def test_the_anthropic_sdk_reads_thinking_text_and_tool_input(
    fake_upstream: FakeUpstream,
) -> None:
    usage = Usage(
        input_tokens=5,
        output_tokens=6,
        cache_creation_5m_tokens=7,
        cache_creation_1h_tokens=8,
        cache_read_input_tokens=9,
    )
    tool = ToolUse("Bash", {"command": "ls -la", "nested": {"a": [1, 2]}}, id="toolu_x")
    fake_upstream.script(
        Reply(text="text " * 30, thinking="deep thought", tool_uses=(tool,), usage=usage)
    )
    client = anthropic.AsyncAnthropic(base_url=fake_upstream.url, api_key="k", max_retries=0)
    async with client.messages.stream(**BODY) as stream:  # type: ignore[arg-type]
        message = await stream.get_final_message()
    await client.close()

    thinking, text, tool_use = message.content
    assert thinking.type == "thinking" and thinking.thinking == "deep thought"
    assert thinking.signature
    assert text.type == "text" and text.text == "text " * 30
    assert tool_use.type == "tool_use" and tool_use.input == tool.input and tool_use.id == "toolu_x"
    assert message.stop_reason == "tool_use"
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 8
    assert (message.usage.cache_read_input_tokens, message.usage.output_tokens) == (9, 6)


async def test_scripted_replies_go_in_order_then_the_responder_answers(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="one"), Reply(text="two"))
    fake_upstream.responder = lambda request: Reply(text=f"responder saw {request.query}")
    texts = []
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            response = await client.post(fake_upstream.url + "/v1/messages?beta=true", json=BODY)
            texts.append(response.json()["content"][0]["text"])

    assert texts == ["one", "two", "responder saw beta=true"]


async def test_requests_are_recorded_with_original_header_case_and_exact_body(
    fake_upstream: FakeUpstream,
) -> None:
    body = b'{"model": "m",   "messages": [], "stream": false}'
    async with httpx.AsyncClient() as client:
        await client.post(
            fake_upstream.url + "/v1/messages?beta=true",
            content=body,
            headers={"X-Claude-Code-Session-Id": "s1", "anthropic-beta": "a,b"},
        )

    (seen,) = fake_upstream.requests
    assert (seen.method, seen.path, seen.query, seen.body) == (
        "POST",
        "/v1/messages",
        "beta=true",
        body,
    )
    assert ("X-Claude-Code-Session-Id", "s1") in seen.headers
    assert seen.header("x-claude-code-session-id") == "s1"
    assert seen.json() == {"model": "m", "messages": [], "stream": False}


async def test_every_response_has_a_unique_request_id(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as client:
        ids = {
            (await client.post(fake_upstream.url + "/v1/messages", json=BODY)).headers["request-id"]
            for _ in range(5)
        }
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("reply", "status", "error_type"),
    [
        (Reply(status=529), 529, "overloaded_error"),
        (Reply(status=500), 500, "api_error"),
        (Reply(status=400, error_message="bad"), 400, "invalid_request_error"),
        (Reply(status=403, error_type="permission_error"), 403, "permission_error"),
        (Reply(error_type="overloaded_error"), 529, "overloaded_error"),
    ],
)
async def test_error_replies_use_anthropic_error_bodies(
    fake_upstream: FakeUpstream, reply: Reply, status: int, error_type: str
) -> None:
    fake_upstream.script(reply)
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert assemble_json(response.content).error_type == error_type


async def test_rate_limited_reply_carries_retry_after_and_extra_headers(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(
        Reply(status=429, headers=(("anthropic-ratelimit-unified-5h-utilization", "0.97"),)),
        Reply(text="ok", headers=(("anthropic-ratelimit-unified-status", "allowed"),)),
    )
    async with httpx.AsyncClient() as client:
        limited = await client.post(fake_upstream.url + "/v1/messages", json=BODY)
        allowed = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)

    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.headers["anthropic-ratelimit-unified-5h-utilization"] == "0.97"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert allowed.headers["anthropic-ratelimit-unified-status"] == "allowed"


async def test_error_event_mid_stream_ends_the_stream(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="abcdefgh", text_chunk_chars=2, error_event_after=4))
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)

    assert response.status_code == 200
    assert event_names(response.content) == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "error",
    ]
    assembled = assemble_sse(response.content)
    assert assembled.error_type == "overloaded_error" and not assembled.is_complete


async def test_reset_after_events_drops_the_connection_mid_stream(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="x" * 100, text_chunk_chars=10, reset_after_events=5))
    received = bytearray()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream(
                "POST", fake_upstream.url + "/v1/messages", json=STREAM_BODY
            ) as response:
                async for chunk in response.aiter_raw():
                    received += chunk

    assert len(event_names(bytes(received))) == 5
    assert not assemble_sse(bytes(received)).is_complete
    async with httpx.AsyncClient() as client:  # the server is fine afterwards
        assert (await client.post(fake_upstream.url + "/v1/messages", json=BODY)).status_code == 200


async def test_reset_before_any_event_sends_no_response(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(reset_after_events=0))
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)


async def test_truncated_non_streaming_body_drops_the_connection(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="y" * 500, reset_after_events=1))
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(fake_upstream.url + "/v1/messages", json=BODY)


async def test_delays_and_odd_chunks_keep_the_stream_intact(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply(
            text="slow and chunky",
            thinking="t",
            chunk_size=7,
            delay_between_events_s=0.01,
            delay_before_headers_s=0.05,
        ),
        Reply(text="slow and chunky", thinking="t"),
    )
    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        slow = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)
        elapsed = time.perf_counter() - started
        fast = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)

    assert elapsed >= 0.05 + 0.01 * (len(event_names(slow.content)) - 1)
    assert content_of(slow.content) == content_of(fast.content)


def content_of(raw: bytes) -> Any:
    assembled = assemble_sse(raw)
    assert assembled.is_complete and assembled.message is not None
    return orjson.loads(assembled.message)["content"]


async def test_raw_body_is_sent_as_given(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply(raw_body=b"event: ping\ndata: {broken\n\n", content_type="text/event-stream")
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=STREAM_BODY)
    assert response.content == b"event: ping\ndata: {broken\n\n"


async def test_other_routes(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as client:
        counted = await client.post(
            fake_upstream.url + "/v1/messages/count_tokens?beta=true", json=BODY
        )
        models = await client.get(fake_upstream.url + "/v1/models")
        missing = await client.post(fake_upstream.url + "/v1/nothing", json=BODY)
        head = await client.head(fake_upstream.url + "/")
        malformed = await client.post(fake_upstream.url + "/v1/messages", content=b"{nope")
        bad_count = await client.post(
            fake_upstream.url + "/v1/messages/count_tokens", content=b"[]"
        )

    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    assert "claude-opus-4-8" in [m["id"] for m in models.json()["data"]]
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert head.status_code == 404
    for response in (malformed, bad_count):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert len(fake_upstream.requests) == 6


async def test_record_responses_keeps_the_bytes_sent() -> None:
    async with FakeUpstream(record_responses=True) as upstream:
        async with httpx.AsyncClient() as client:
            await client.post(upstream.url + "/v1/messages", json=STREAM_BODY)
            upstream.script(Reply(text="kept", reset_after_events=3))
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(upstream.url + "/v1/messages", json=STREAM_BODY)

    (_, whole), (_, cut) = upstream.exchanges
    assert whole.status == 200 and assemble_sse(whole.body).text == "You said: hi"
    assert len(event_names(cut.body)) == 3


def test_in_thread_serves_sync_clients() -> None:
    with FakeUpstream.in_thread() as upstream:
        upstream.script(Reply(text="from a thread"))
        response = httpx.post(upstream.url + "/v1/messages", json=BODY)
        assert response.json()["content"][0]["text"] == "from a thread"
        assert len(upstream.requests) == 1


def test_runs_as_a_subprocess_that_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", "0", "--delay-ms", "1"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        response = httpx.post(url + "/v1/messages", json=STREAM_BODY, timeout=10)
        assert assemble_sse(response.content).text == "You said: hi"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# ---------------------------------------------------------------------------------------------
# ClaudeCodeResponder, on bodies captured from the real CLI


def captured(scenario: str) -> list[SeenRequest]:
    data = json.loads((CAPTURES / f"{scenario}.json").read_text())
    return [
        SeenRequest(
            e["method"],
            e["path"],
            e["query"],
            tuple((k, v) for k, v in e["headers"]),
            e["body"].encode(),
        )
        for e in data["exchanges"]
        if e["method"] == "POST"
    ]


def test_responder_spawns_a_general_purpose_agent_then_the_sub_agent_runs_bash() -> None:
    responder = ClaudeCodeResponder()
    parent, sub_first, sub_second, parent_final = captured("subagent")

    (spawn,) = responder(parent).tool_uses
    assert spawn.name == "Agent" and spawn.input["subagent_type"] == "general-purpose"
    assert spawn.input["prompt"] == SUB_AGENT_PROMPT
    (bash,) = responder(sub_first).tool_uses
    assert bash.name == "Bash" and bash.input["command"] == "echo sub-agent-ok"
    assert "sub-agent-ok" in responder(sub_second).text
    assert not responder(sub_second).tool_uses
    assert "sub-agent-ok" in responder(parent_final).text


def test_responder_runs_echo_then_reports_the_tool_result() -> None:
    responder = ClaudeCodeResponder()
    first, second = captured("tool_loop")

    (bash,) = responder(first).tool_uses
    assert bash.input["command"] == "echo hello-nexus"
    assert responder(first).thinking
    assert "hello-nexus" in responder(second).text


def test_responder_answers_title_calls_with_json_matching_the_schema() -> None:
    body = {
        "model": "claude-haiku-4-5-20251001",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [],
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}},
                    "required": ["title"],
                },
            }
        },
    }
    request = SeenRequest("POST", "/v1/messages", "", (), orjson.dumps(body))

    reply = ClaudeCodeResponder()(request)

    assert isinstance(json.loads(reply.text)["title"], str)
    assert reply.thinking is None


def test_responder_answers_the_captured_title_and_compaction_calls() -> None:
    responder = ClaudeCodeResponder()
    title, *turns, compaction, after = captured("interactive_compact")

    assert set(json.loads(responder(title).text)) == {"title"}
    summary = responder(compaction).text
    assert "<summary>" in summary and "remember the word pineapple" in summary
    assert not responder(compaction).tool_uses
    assert responder(after).text.startswith("You said: ")
    assert len(turns) == 4


async def test_accepted_keys_reject_other_credentials_with_a_401() -> None:
    async with FakeUpstream(accepted_keys=frozenset({"sk-good", "oauth-token"})) as upstream:
        async with httpx.AsyncClient() as client:
            url = upstream.url + "/v1/messages"
            good = await client.post(url, json=BODY, headers={"x-api-key": "sk-good"})
            bearer = await client.post(
                url, json=BODY, headers={"authorization": "Bearer oauth-token"}
            )
            bad = await client.post(url, json=BODY, headers={"x-api-key": "sk-bad"})
            missing = await client.post(url, json=BODY)

    assert (good.status_code, bearer.status_code) == (200, 200)
    for response in (bad, missing):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


async def test_gzip_reply_is_compressed_on_the_wire(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="squeezed", gzip=True))
    async with httpx.AsyncClient() as client:
        response = await client.post(fake_upstream.url + "/v1/messages", json=BODY)
        async with client.stream("POST", fake_upstream.url + "/v1/messages", json=BODY) as raw:
            assert raw.headers.get("content-encoding") is None  # only scripted replies compress
            await raw.aread()

    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["content"][0]["text"] == "squeezed"
