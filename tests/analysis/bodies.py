"""Request and response bodies in Claude Code's shapes, for transcript and worker tests."""

from __future__ import annotations

from typing import Any

import orjson

REMINDER = "<system-reminder>Today's date is 2025-06-01.</system-reminder>"


def user(text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": REMINDER}, {"type": "text", "text": text}],
    }


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, tool_id: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def tool_result(tool_id: str, content: str, *, is_error: bool = False) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "content": content,
                "is_error": is_error,
            }
        ],
    }


def request_body(messages: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "model": "claude-opus-4-8",
            "max_tokens": 64000,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": messages,
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
            "stream": True,
        }
    )


def response(*blocks: dict[str, Any]) -> bytes:
    return orjson.dumps({"role": "assistant", "type": "message", "content": list(blocks)})


def session(turns: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """A linear session: each (prompt, answer) is one request resending the whole history."""
    history: list[dict[str, Any]] = []
    pairs = []
    for prompt, answer in turns:
        history.append(user(prompt))
        reply = text(answer)
        pairs.append((request_body(list(history)), response(reply)))
        history.append(assistant(reply))
    return pairs


def make_record(
    request_id: str,
    started_at_ms: int,
    body: bytes,
    reply: bytes | None,
    session_id: str = "5f0c8a1e-0000-4000-8000-000000000001",
) -> Any:
    """A recorded main-agent call with these bodies (message count from the body)."""
    from nexus.records import Exchange, RequestRecord

    exchange = Exchange(
        id=request_id,
        started_at_ms=started_at_ms,
        ended_at_ms=started_at_ms + 100,
        first_byte_at_ms=started_at_ms + 10,
        method="POST",
        path="/v1/messages",
        query="beta=true",
        host="127.0.0.1:3000",
        request_headers=(
            ("content-type", "application/json"),
            ("x-claude-code-session-id", session_id),
            ("user-agent", "claude-cli/2.1.197 (external, cli)"),
        ),
        request_body=body,
        status=200,
        response_headers=(("content-type", "text/event-stream"),),
        response_body=b"event: message_stop\ndata: {}\n\n",
    )
    return RequestRecord(
        exchange=exchange,
        model="claude-opus-4-8",
        is_streaming=True,
        response_message=reply,
        session_id=session_id,
        message_count=len(orjson.loads(body)["messages"]),
    )


async def store_session(
    store: Any,
    pairs: list[tuple[bytes, bytes]],
    *,
    conversation_id: str = "conv1",
    branch: str = "main",
    start_ms: int = 1_700_000_000_000,
    prefix: str = "r",
) -> list[str]:
    """Write a linear session's requests and link them into one branch; returns their ids."""
    from nexus.records import Link, TrafficClass

    ids = [f"{prefix}{i:04d}" for i in range(len(pairs))]
    records = [
        make_record(rid, start_ms + i * 1000, body, reply)
        for i, (rid, (body, reply)) in enumerate(zip(ids, pairs, strict=True))
    ]
    await store.write_batch(records)
    links = [
        Link(
            request_id=rid,
            traffic_class=TrafficClass.TURN,
            conversation_id=conversation_id,
            parent_request_id=ids[i - 1] if i else None,
            branch=branch,
        )
        for i, rid in enumerate(ids)
    ]
    await store.write_links(links)
    return ids
