"""The smallest Anthropic API that Claude Code will talk to, for ``nexus doctor --wire``.

Answers every Messages call with a short text (streamed as Anthropic frames SSE, or as one JSON
body), a structured-output call with a JSON object of its schema's properties, count_tokens with a
count, and anything else with an empty ``200`` (preconnect probes) or Anthropic's ``404``. It keeps
each request exactly as it arrived (raw header names and order, body bytes) so the check can
compare it with what the client sent. No network, no key. Not a test fake: it ships with Nexus so a
team can run the check after upgrading Claude Code.
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from nexus.errors import anthropic_error_body

REPLY_TEXT = "ok"
SUB_AGENT_PROMPT = "Reply with the single word ok. This is a Nexus wire check."


@dataclass(frozen=True, slots=True)
class ArrivedRequest:
    """One request as the upstream received it."""

    method: str
    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...]  # raw names, in order
    body: bytes


@dataclass
class FakeApi:
    """Start with ``await start()``; ``url`` is then set. ``arrived`` grows with each request."""

    arrived: list[ArrivedRequest] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    # Each reply gets its own message id, as the real API's do: Claude Code joins assistant
    # messages that share an id (one streamed reply arrives as one message per block), looking
    # back past tool results, so one id for every reply folds a later reply into an earlier turn.
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
        self.arrived.append(ArrivedRequest(request.method, request.raw_path, headers, body))
        path = request.path.rstrip("/")
        if request.method == "POST" and path.endswith("/v1/messages/count_tokens"):
            return _json({"input_tokens": max(1, len(body) // 4)})
        if request.method == "POST" and path.endswith("/v1/messages"):
            message_id = f"msg_wirecheck{next(self._message_ids):06d}"
            return await _messages(request, _loads(body), message_id)
        if request.method in ("HEAD", "GET", "OPTIONS"):
            return web.Response(status=200)
        return web.Response(
            status=404,
            body=anthropic_error_body("not_found_error", f"{request.method} {path}"),
            content_type="application/json",
        )


async def _messages(
    request: web.Request, body: dict[str, Any], message_id: str
) -> web.StreamResponse:
    content = _reply_content(body, is_sub_agent="x-claude-code-agent-id" in request.headers)
    stop_reason = "tool_use" if content[-1]["type"] == "tool_use" else "end_turn"
    model = body.get("model") if isinstance(body.get("model"), str) else "claude-opus-4-8"
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 2},
    }
    if body.get("stream") is not True:
        return _json(message)
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "request-id": "req_wirecheck"}
    )
    await response.prepare(request)
    start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 10}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(content):
        events += _block_events(index, block)
    events += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                           "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    for name, data in events:
        await response.write(
            b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        )
    await response.write_eof()
    return response


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if block["type"] == "tool_use":
        opening = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": orjson.dumps(block["input"]).decode()}
    else:
        opening = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
    return [
        ("content_block_start",
         {"type": "content_block_start", "index": index, "content_block": opening}),
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]  # fmt: skip


def _reply_content(body: dict[str, Any], *, is_sub_agent: bool) -> list[dict[str, Any]]:
    """What the fake says. The main agent's first turn, when it offers the ``Agent`` tool, spawns
    one sub-agent (so the check sees a sub-agent call and its link); everything else gets ``ok``,
    or for a structured-output call (title helpers) an object of its schema's properties."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    schema = fmt.get("schema") if isinstance(fmt, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict):
        return [
            {"type": "text", "text": orjson.dumps(dict.fromkeys(properties, "wire check")).decode()}
        ]
    if not is_sub_agent and _offers_agent_tool(body) and not _has_tool_results(body):
        spawn = {"description": "Wire check", "prompt": SUB_AGENT_PROMPT,
                 "subagent_type": "general-purpose"}  # fmt: skip
        return [
            {"type": "text", "text": "Asking a sub-agent."},
            {"type": "tool_use", "id": "toolu_01WireCheckAgent", "name": "Agent", "input": spawn},
        ]
    return [{"type": "text", "text": REPLY_TEXT}]


def _offers_agent_tool(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and t.get("name") == "Agent" for t in tools
    )


def _has_tool_results(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return isinstance(messages, list) and any(
        isinstance(m, dict)
        and isinstance(m.get("content"), list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in m["content"])
        for m in messages
    )


def _json(value: dict[str, Any]) -> web.Response:
    return web.Response(
        body=orjson.dumps(value),
        content_type="application/json",
        headers={"request-id": "req_wirecheck"},
    )


def _loads(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
