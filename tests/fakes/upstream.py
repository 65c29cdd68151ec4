"""A fake Anthropic API on a real socket: the upstream every proxy test and benchmark talks to.

It speaks the Messages API wire format (SSE events exactly as Anthropic frames them, error bodies,
``request-id`` headers), records every request it sees, and plays scripted ``Reply`` values that can
fail in the ways the real API fails: error statuses, a mid-stream ``event: error``, a connection
dropped after N events, slow headers, slow or oddly chunked events. With nothing scripted, a
``responder`` callable answers; the default echoes the last user text. ``ClaudeCodeResponder``
answers the real Claude Code CLI well enough for it to run tools and sub-agents.

Three ways to run it: ``async with FakeUpstream() as up`` in the test's loop, ``with
FakeUpstream.in_thread() as up`` for sync code, or ``python -m tests.fakes.upstream --port N``
(prints its URL on stdout) for benchmarks. The ``fake_upstream`` pytest fixture yields a started
one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import hashlib
import os
import re
import socket
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from aiohttp import web

from nexus.records import Usage

__all__ = [
    "ClaudeCodeResponder",
    "FakeUpstream",
    "Reply",
    "SeenRequest",
    "ToolUse",
    "echo_reply",
    "encode_json",
    "encode_stream",
]

Headers = tuple[tuple[str, str], ...]
Responder = Callable[["SeenRequest"], "Reply"]

DEFAULT_MODEL = "claude-opus-4-8"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES = {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}
_SSE_TYPE = "text/event-stream; charset=utf-8"
_UNPARSED: Any = object()
_JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the fake received it. Header names keep their original case."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    parsed: Any = field(default=_UNPARSED, repr=False, compare=False)  # the body, parsed once
    target: str = ""  # the request target as received: path and query still percent-encoded

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def json(self) -> Any:
        """The body parsed, or None when it is not JSON."""
        if self.parsed is not _UNPARSED:
            return self.parsed
        return _loads_or_none(self.body)


@dataclass(frozen=True, slots=True)
class SeenResponse:
    """What the fake sent back (kept when ``record_responses`` is on). ``body`` holds the bytes
    actually written: a dropped connection leaves it short."""

    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str | None = None  # None: a fresh toolu_... id


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. Defaults make a plain successful text reply."""

    text: str = ""
    thinking: str | None = None
    signature: str | None = None  # None with thinking: derived from the thinking text
    tool_uses: tuple[ToolUse, ...] = ()
    stop_reason: str | None = None  # None: "tool_use" when tool_uses else "end_turn"
    model: str | None = None  # None: the request's model
    usage: Usage | None = None  # None: plausible counts from the request and reply sizes
    status: int = 200
    error_type: str | None = None  # None: derived from status (529 overloaded_error, ...)
    error_message: str | None = None
    retry_after: str | None = None  # None: "1" on 429
    headers: Headers = ()  # extra response headers (rate-limit headers, ...)
    stream: bool | None = None  # None: as the request's "stream" field says
    delay_before_headers_s: float = 0.0
    delay_between_events_s: float = 0.0
    reset_after_events: int | None = None  # close the connection after N events (0: no response)
    error_event_after: int | None = None  # send ``event: error`` after N events and end
    chunk_size: int | None = None  # write each event in pieces of this many bytes
    text_chunk_chars: int = 40  # characters per text_delta
    raw_body: bytes | None = None  # send these bytes as the body instead of building one
    content_type: str | None = None  # with raw_body
    gzip: bool = False  # gzip a successful non-streaming body (content-encoding: gzip)

    @property
    def is_error(self) -> bool:
        return self.status >= 400 or (
            self.error_type is not None and self.error_event_after is None
        )


# ---------------------------------------------------------------------------------------------
# Wire encoding (pure functions; tests of the parser use them too)


def encode_stream(reply: Reply, model: str, input_tokens: int) -> list[bytes]:
    """The SSE events of a successful reply, one ``bytes`` per event, framed as Anthropic does."""
    usage = _usage_for(reply, input_tokens)
    start_usage = _usage_json(usage, output_tokens=1)
    events = [
        _event(
            b"message_start",
            {
                "type": "message_start",
                "message": {
                    "id": _new_id("msg_"),
                    "type": "message",
                    "role": "assistant",
                    "model": reply.model or model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
    ]
    for index, block in enumerate(_blocks(reply)):
        kind = block["type"]
        start = dict(block)
        if kind == "text":
            start["text"] = ""
        elif kind == "thinking":
            start["thinking"], start["signature"] = "", ""
        elif kind == "tool_use":
            start["input"] = {}
        events.append(
            _event(
                b"content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        if index == 0:
            events.append(_PING)
        events.extend(_block_deltas(index, block, reply.text_chunk_chars))
        events.append(_event(b"content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        _event(
            b"message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": usage.output_tokens},
            },
        )
    )
    events.append(_MESSAGE_STOP)
    return events


def encode_json(reply: Reply, model: str, input_tokens: int) -> bytes:
    """The non-streaming body of a successful reply."""
    return orjson.dumps(
        {
            "id": _new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or model,
            "content": _blocks(reply),
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": _usage_json(_usage_for(reply, input_tokens)),
        }
    )


def error_body(error_type: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


_PING = _event(b"ping", {"type": "ping"})
_MESSAGE_STOP = _event(b"message_stop", {"type": "message_stop"})


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking is not None:
        signature = reply.signature or _signature_for(reply.thinking)
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
    if reply.text or not (reply.tool_uses or blocks):
        blocks.append({"type": "text", "text": reply.text})
    for tool in reply.tool_uses:
        blocks.append(
            {
                "type": "tool_use",
                "id": tool.id or _new_id("toolu_"),
                "name": tool.name,
                "input": tool.input,
            }
        )
    return blocks


def _block_deltas(index: int, block: dict[str, Any], chunk_chars: int) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        return [
            _delta(index, {"type": "text_delta", "text": piece})
            for piece in _pieces(block["text"], chunk_chars)
        ]
    if kind == "thinking":
        deltas = [
            _delta(index, {"type": "thinking_delta", "thinking": piece})
            for piece in _pieces(block["thinking"], chunk_chars)
        ]
        deltas.append(_delta(index, {"type": "signature_delta", "signature": block["signature"]}))
        return deltas
    # The real API opens every tool input with an empty partial, then streams fragments.
    raw = orjson.dumps(block["input"]).decode()
    parts = ["", *_pieces(raw, max(1, len(raw) // 3 + 1))]
    return [_delta(index, {"type": "input_json_delta", "partial_json": part}) for part in parts]


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _event(
        b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _pieces(text: str, size: int) -> list[str]:
    if not text:
        return []
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")


def _usage_for(reply: Reply, input_tokens: int) -> Usage:
    if reply.usage is not None:
        return reply.usage
    out = (len(reply.text) + len(reply.thinking or "")) // 4 + 8 * len(reply.tool_uses) + 1
    return Usage(input_tokens=input_tokens, output_tokens=out)


def _usage_json(usage: Usage, output_tokens: int | None = None) -> dict[str, Any]:
    creation = usage.cache_creation_input_tokens or (
        usage.cache_creation_5m_tokens + usage.cache_creation_1h_tokens
    )
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_creation_1h_tokens,
        },
        "output_tokens": usage.output_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
    }


def _signature_for(thinking: str) -> str:
    digest = hashlib.sha256(thinking.encode()).digest()
    return base64.b64encode(digest * 6).decode()


def _new_id(prefix: str) -> str:
    raw = int.from_bytes(os.urandom(18), "big")
    chars = []
    for _ in range(22):
        raw, rest = divmod(raw, 62)
        chars.append(_B62[rest])
    return prefix + "01" + "".join(chars)


def _estimate_tokens(body: bytes) -> int:
    return max(1, len(body) // 4)


# ---------------------------------------------------------------------------------------------
# Responders


def last_user_text(body: Any) -> str:
    """The text of the last user message, without ``<system-reminder>`` blocks."""
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content or ()
            if isinstance(block, dict)
            and block.get("type") == "text"
            and not str(block.get("text", "")).startswith("<system-reminder>")
        ]
        return "\n".join(texts)
    return ""


def echo_reply(request: SeenRequest) -> Reply:
    """The default: a deterministic "You said: <last user text>"."""
    return Reply(text="You said: " + last_user_text(request.json()))


def tool_results(body: Any) -> list[str]:
    """The text of the tool_result blocks in the last user message (empty if it holds none)."""
    if not isinstance(body, dict):
        return []
    for message in reversed(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            return []
        found = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    inner = " ".join(str(b.get("text", "")) for b in inner if isinstance(b, dict))
                found.append(str(inner or ""))
        return found
    return []


SUB_AGENT_PROMPT = "Run the shell command `echo sub-agent-ok` with Bash and report its output."
COMPACT_MARKER = "create a detailed summary of the conversation so far"
_RUN_ECHO = re.compile(r"run echo\s+([\w.-]+)", re.IGNORECASE)


class ClaudeCodeResponder:
    """Answers the real Claude Code CLI so that it does useful work against the fake.

    - title/topic helper calls (``output_config.format`` with a json_schema): valid JSON
    - sub-agent calls (``x-claude-code-agent-id``): a Bash ``echo sub-agent-ok``, then a final text
    - a last user message holding tool_results: a final text quoting what they said
    - "spawn a sub-agent": an ``Agent`` tool_use (general-purpose)
    - "run echo WORD": a Bash tool_use ``echo WORD``
    - a compaction request (``/compact``): an <analysis> and a <summary> of the user's messages
    - anything else: an echo, with a thinking block on main-agent turns
    """

    def __call__(self, request: SeenRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            return echo_reply(request)
        schema = _json_schema(body)
        if schema is not None:
            return Reply(text=orjson.dumps(_fill_schema(schema)).decode())
        prompt = last_user_text(body)
        if COMPACT_MARKER in prompt:
            return Reply(text=_summary(body))
        agents = agent_scenario_reply(request, body)
        if agents is not None:
            return agents
        results = tool_results(body)
        is_sub_agent = request.header("x-claude-code-agent-id") is not None
        if results:
            seen = " | ".join(r.strip() for r in results)[:500]
            who = "Sub-agent finished" if is_sub_agent else "Done"
            return Reply(text=f"{who}. The tool said: {seen}")
        if is_sub_agent:
            return Reply(
                text="Running the command.",
                tool_uses=(
                    ToolUse(
                        "Bash",
                        {"command": "echo sub-agent-ok", "description": "Print sub-agent-ok"},
                    ),
                ),
            )
        thinking = f"The user asked: {prompt[:200]}"
        if "spawn a sub-agent" in prompt.lower():
            agent_input = {
                "description": "Run echo in a sub-agent",
                "prompt": SUB_AGENT_PROMPT,
                "subagent_type": "general-purpose",
            }
            return Reply(
                text="I will ask a sub-agent.",
                thinking=thinking,
                tool_uses=(ToolUse("Agent", agent_input),),
            )
        match = _RUN_ECHO.search(prompt)
        if match:
            command = f"echo {match.group(1)}"
            return Reply(
                text="Running it.",
                thinking=thinking,
                tool_uses=(ToolUse("Bash", {"command": command, "description": "Run echo"}),),
            )
        return Reply(text="You said: " + prompt, thinking=thinking)


# ---------------------------------------------------------------------------------------------
# Responders for the newer agent shapes (fork sub-agents, parallel and nested sub-agents, /btw side
# questions), kept apart from ClaudeCodeResponder so the scenarios can be read in one place.

FORK_DIRECTIVE = "Run the shell command `echo fork-ok` with Bash and report its output."
PARALLEL_PROMPTS = (
    "Run the shell command `echo parallel-one` with Bash and report its output.",
    "Run the shell command `echo parallel-two` with Bash and report its output.",
)
NESTED_PROMPT = (
    "Spawn a sub-agent of your own (general-purpose) that runs `echo nested-ok`, then report."
)
SIDE_QUESTION_MARKER = "This is a side question from the user"
_FORK_BOILERPLATE = "<fork-boilerplate>"
_ECHO_IN_PROMPT = re.compile(r"`echo ([\w.-]+)`")


def agent_scenario_reply(request: SeenRequest, body: dict[str, Any]) -> Reply | None:
    """The reply for the agent scenarios, or None to let the general rules answer.

    - a /btw side question (the CLI's side-question reminder): a plain answer, no tools
    - "fork a sub-agent": an ``Agent`` tool_use with ``subagent_type: "fork"``; the fork (its last
      user message carries ``<fork-boilerplate>`` and "Your directive: …") runs the directive's echo
    - "spawn two sub-agents": two ``Agent`` tool_uses in one response (parallel sub-agents)
    - "spawn a nested sub-agent": a sub-agent whose prompt asks it to spawn one of its own
    """
    last = _last_user_blocks_text(body)
    if SIDE_QUESTION_MARKER in last:
        question = last.rsplit("</system-reminder>", 1)[-1].strip()
        return Reply(text=f"Side answer: {question[:200]}")
    is_sub_agent = request.header("x-claude-code-agent-id") is not None
    if is_sub_agent and _FORK_BOILERPLATE in last:  # beside the tool_result "Fork started…"
        return _run_echo_from(last, "fork-ok")
    if tool_results(body):
        return None
    prompt = last_user_text(body).lower()
    if is_sub_agent:
        first = _first_user_text(body)
        # Only on its first call: later ones (a notification that the inner agent finished) get
        # the general answer, or the outer agent would spawn forever.
        if NESTED_PROMPT in first and not any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in body.get("messages") or ()
        ):
            inner = {
                "description": "Nested echo",
                "prompt": "Run the shell command `echo nested-ok` with Bash and report its output.",
                "subagent_type": "general-purpose",
            }
            return Reply(text="Spawning my own sub-agent.", tool_uses=(ToolUse("Agent", inner),))
        if _ECHO_IN_PROMPT.search(first):
            return _run_echo_from(first, "sub-agent-ok")
        return None
    if "fork a sub-agent" in prompt:
        fork = {
            "description": "Fork to run echo",
            "prompt": FORK_DIRECTIVE,
            "subagent_type": "fork",
        }
        return Reply(text="Forking myself.", tool_uses=(ToolUse("Agent", fork),))
    if "spawn two sub-agents" in prompt:
        calls = tuple(
            ToolUse(
                "Agent",
                {"description": f"Parallel echo {i}", "prompt": text,
                 "subagent_type": "general-purpose"},
            )
            for i, text in enumerate(PARALLEL_PROMPTS, start=1)
        )  # fmt: skip
        return Reply(text="Two sub-agents at once.", tool_uses=calls)
    if "spawn a nested sub-agent" in prompt:
        outer = {"description": "Outer agent", "prompt": NESTED_PROMPT,
                 "subagent_type": "general-purpose"}  # fmt: skip
        return Reply(text="A sub-agent that spawns another.", tool_uses=(ToolUse("Agent", outer),))
    return None


def _run_echo_from(text: str, default: str) -> Reply:
    found = _ECHO_IN_PROMPT.search(text)
    command = f"echo {found.group(1) if found else default}"
    return Reply(
        text="Running the command.",
        tool_uses=(ToolUse("Bash", {"command": command, "description": "Run echo"}),),
    )


def _last_user_blocks_text(body: dict[str, Any]) -> str:
    """All text of the last user message, reminders included (they carry the markers)."""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _first_user_text(body: dict[str, Any]) -> str:
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        str(b.get("text", "")) for b in content or () if isinstance(b, dict) and "text" in b
    )


def _summary(body: dict[str, Any]) -> str:
    said = []
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "user":
            text = last_user_text({"messages": [message]}).split("\n")[0].strip()
            if text and not text.startswith("<") and COMPACT_MARKER not in text.lower():
                if not text.startswith("CRITICAL: Respond with TEXT ONLY"):
                    said.append(f"    - {text}")
    lines = "\n".join(said)
    return (
        "<analysis>\nThe user sent a few short requests.\n</analysis>\n\n"
        f"<summary>\n1. Primary Request and Intent:\n   Short requests.\n\n"
        f"6. All user messages:\n{lines}\n</summary>"
    )


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _fill_schema(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _fill_schema(sub) for name, sub in props.items() if isinstance(sub, dict)}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    return "Fake session title"


# ---------------------------------------------------------------------------------------------
# The server

_MODELS = orjson.dumps(
    {
        "data": [
            {
                "type": "model",
                "id": model,
                "display_name": name,
                "created_at": "2026-01-01T00:00:00Z",
            }
            for model, name in (
                ("claude-opus-4-8", "Claude Opus 4.8"),
                ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
                ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
            )
        ],
        "has_more": False,
        "first_id": "claude-opus-4-8",
        "last_id": "claude-haiku-4-5-20251001",
    }
)


class FakeUpstream:
    """The fake API. ``requests`` lists what it saw; ``script`` queues replies for /v1/messages."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record_responses: bool = False,
        accepted_keys: frozenset[str] | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_reply
        # None: any credential passes. Otherwise x-api-key or "Authorization: Bearer" must be one
        # of these (OAuth tokens included), or the call gets Anthropic's 401.
        self.accepted_keys = accepted_keys
        self.requests: list[SeenRequest] = []
        self.record_responses = record_responses
        self.exchanges: list[tuple[SeenRequest, SeenResponse]] = []  # with record_responses
        self.replies: deque[Reply] = deque()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *replies: Reply) -> None:
        """Queue replies; each /v1/messages call takes the next, then ``responder`` answers."""
        self.replies.extend(replies)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: a test that leaves a slow stream open must not stall teardown.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.url = f"http://{self._host}:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(
        cls, responder: Responder | None = None, *, record_responses: bool = False
    ) -> Iterator[FakeUpstream]:
        """Run on a background thread with its own loop, for sync tests and benchmarks."""
        upstream = cls(responder, record_responses=record_responses)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(upstream.start(), loop).result(timeout=10)
            yield upstream
        finally:
            asyncio.run_coroutine_threadsafe(upstream.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    # -- request handling ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        is_messages = request.method == "POST" and path == "/v1/messages"
        seen = SeenRequest(
            method=request.method,
            path=path,
            query=request.query_string,
            headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
            ),
            body=body,
            parsed=_loads_or_none(body) if is_messages else _UNPARSED,
            target=request.raw_path,
        )
        self.requests.append(seen)
        response = await self._route(request, seen, is_messages)
        if self.record_responses:
            written = getattr(response, "written", None)
            sent = b"".join(written) if written is not None else getattr(response, "body", b"")
            headers = tuple(response.headers.items())
            self.exchanges.append(
                (seen, SeenResponse(response.status, headers, bytes(sent or b"")))
            )
        return response

    async def _route(
        self, request: web.Request, seen: SeenRequest, is_messages: bool
    ) -> web.StreamResponse:
        path, body = seen.path, seen.body
        if self.accepted_keys is not None and path.startswith("/v1/"):
            if _credential(seen) not in self.accepted_keys:
                return _error_response(401, "authentication_error", "invalid x-api-key")
        if is_messages:
            return await self._messages(request, seen)
        if request.method == "POST" and path == "/v1/messages/count_tokens":
            if not isinstance(_loads_or_none(body), dict):
                return _error_response(400, "invalid_request_error", "Malformed JSON body")
            return _json_response(orjson.dumps({"input_tokens": _estimate_tokens(body)}))
        if request.method == "GET" and path == "/v1/models":
            return _json_response(_MODELS)
        return _error_response(404, "not_found_error", f"Not Found: {path}")

    async def _messages(self, request: web.Request, seen: SeenRequest) -> web.StreamResponse:
        parsed = seen.parsed
        if not isinstance(parsed, dict):
            return _error_response(400, "invalid_request_error", "Malformed JSON body")
        reply = self.replies.popleft() if self.replies else self.responder(seen)
        if reply.delay_before_headers_s:
            await asyncio.sleep(reply.delay_before_headers_s)
        if reply.reset_after_events == 0:
            _close_connection(request)
            return web.Response()  # aiohttp finds the connection closed and sends nothing
        if reply.raw_body is not None:
            return _raw_response(reply)
        if reply.is_error:
            return _reply_error(reply)
        model = str(parsed.get("model") or DEFAULT_MODEL)
        input_tokens = _estimate_tokens(seen.body)
        streaming = reply.stream if reply.stream is not None else parsed.get("stream") is True
        if not streaming:
            payload = encode_json(reply, model, input_tokens)
            if reply.reset_after_events is not None:
                return await _send_truncated(request, reply, payload)
            return _json_response(payload, reply)
        return await _send_stream(request, reply, encode_stream(reply, model, input_tokens))


class _RecordingStream(web.StreamResponse):
    """A streamed response that remembers what it wrote, for ``record_responses``."""

    def __init__(self, *, headers: dict[str, str]) -> None:
        super().__init__(headers=headers)
        self.written: list[bytes] = []

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))
        await super().write(data)


def _base_headers(reply: Reply | None, content_type: str) -> dict[str, str]:
    headers = {"content-type": content_type, "request-id": _new_id("req_")}
    if reply is not None:
        for name, value in reply.headers:
            headers[name] = value
    return headers


def _json_response(payload: bytes, reply: Reply | None = None) -> web.Response:
    headers = _base_headers(reply, _JSON_TYPE)
    if reply is not None and reply.gzip:
        payload = gzip.compress(payload)
        headers["content-encoding"] = "gzip"
    return web.Response(body=payload, headers=headers)


def _error_response(
    status: int, error_type: str, message: str, reply: Reply | None = None
) -> web.Response:
    headers = _base_headers(reply, _JSON_TYPE)
    return web.Response(status=status, body=error_body(error_type, message), headers=headers)


def _reply_error(reply: Reply) -> web.Response:
    status = reply.status
    if status < 400:  # only an error type was given: use the status Anthropic pairs with it
        status = {v: k for k, v in _ERROR_TYPES.items()}.get(reply.error_type or "", 500)
    error_type = reply.error_type or _ERROR_TYPES.get(status, "api_error")
    message = reply.error_message or _ERROR_MESSAGES.get(error_type, f"Fake {error_type}")
    response = _error_response(status, error_type, message, reply)
    retry_after = reply.retry_after or ("1" if status == 429 else None)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


def _raw_response(reply: Reply) -> web.Response:
    headers = _base_headers(reply, reply.content_type or _JSON_TYPE)
    return web.Response(status=reply.status, body=reply.raw_body, headers=headers)


async def _send_stream(
    request: web.Request, reply: Reply, events: list[bytes]
) -> web.StreamResponse:
    response = _RecordingStream(headers=_base_headers(reply, _SSE_TYPE))
    response.headers["cache-control"] = "no-cache"
    await response.prepare(request)
    plain = (
        not reply.delay_between_events_s
        and reply.chunk_size is None
        and reply.reset_after_events is None
        and reply.error_event_after is None
    )
    if plain:
        await response.write(b"".join(events))  # one write: the fast path benchmarks measure
        await response.write_eof()
        return response
    stop_at = len(events)
    if reply.error_event_after is not None:
        stop_at = min(stop_at, reply.error_event_after)
    if reply.reset_after_events is not None:
        stop_at = min(stop_at, reply.reset_after_events)
    for i, event in enumerate(events[:stop_at]):
        if i and reply.delay_between_events_s:
            await asyncio.sleep(reply.delay_between_events_s)
        for piece in _split(event, reply.chunk_size):
            await response.write(piece)
    if reply.reset_after_events is not None and reply.reset_after_events <= stop_at:
        await _flush(request)
        _close_connection(request)
        return response  # its end cannot be written: aiohttp drops it as a closed connection
    if reply.error_event_after is not None:
        error_type = reply.error_type or "overloaded_error"
        message = reply.error_message or _ERROR_MESSAGES.get(error_type, f"Fake {error_type}")
        data = orjson.loads(error_body(error_type, message))
        await response.write(_event(b"error", data))
    await response.write_eof()
    return response


async def _send_truncated(request: web.Request, reply: Reply, payload: bytes) -> web.StreamResponse:
    response = _RecordingStream(headers=_base_headers(reply, _JSON_TYPE))
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    await _flush(request)
    _close_connection(request)
    return response


def _split(data: bytes, size: int | None) -> list[bytes]:
    if not size or size >= len(data):
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


async def _flush(request: web.Request) -> None:
    transport = request.transport
    # Written bytes may still sit in the transport's buffer; a close must not overtake them.
    while transport is not None and transport.get_write_buffer_size():
        await asyncio.sleep(0.001)


def _close_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _credential(request: SeenRequest) -> str | None:
    key = request.header("x-api-key")
    if key is not None:
        return key
    auth = request.header("authorization") or ""
    return auth[7:] if auth.lower().startswith("bearer ") else None


def _loads_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


# ---------------------------------------------------------------------------------------------
# pytest fixture and command line


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Anthropic API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before headers")
    parser.add_argument("--event-delay-ms", type=float, default=0.0, help="wait between events")
    parser.add_argument("--claude-code", action="store_true", help="use ClaudeCodeResponder")
    args = parser.parse_args(argv)

    base: Responder = ClaudeCodeResponder() if args.claude_code else echo_reply
    delay_s, event_delay_s = args.delay_ms / 1000, args.event_delay_ms / 1000

    def responder(request: SeenRequest) -> Reply:
        reply = base(request)
        if delay_s or event_delay_s:
            reply = replace(
                reply, delay_before_headers_s=delay_s, delay_between_events_s=event_delay_s
            )
        return reply

    async def serve() -> None:
        upstream = FakeUpstream(responder, host=args.host, port=args.port)
        await upstream.start()
        print(upstream.url, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await upstream.stop()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
