"""The fake's server: an aiohttp app on a real socket that records every request it sees and plays
scripted ``Reply`` values, failing the ways the real API fails (error statuses, a mid-stream
``event: error``, a connection dropped after N events, slow headers, slow or oddly chunked events).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from aiohttp import web

from tests.fakes.upstream import control
from tests.fakes.upstream.cache import PromptCache, PromptTokens, read_prompt
from tests.fakes.upstream.responders import echo_reply
from tests.fakes.upstream.wire import (
    DEFAULT_MODEL,
    ERROR_MESSAGES,
    ERROR_TYPES,
    UNPARSED,
    Reply,
    Responder,
    SeenRequest,
    SeenResponse,
    encode_json,
    encode_stream,
    error_body,
    estimate_tokens,
    loads_or_none,
    new_id,
    sse_event,
)

_SSE_TYPE = "text/event-stream; charset=utf-8"
_JSON_TYPE = "application/json"
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
        cache: PromptCache | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_reply
        # None: no prompt caching; usage reports every prompt token as input (see cache.py).
        self.cache = cache
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
        cls,
        responder: Responder | None = None,
        *,
        record_responses: bool = False,
        cache: PromptCache | None = None,
    ) -> Iterator[FakeUpstream]:
        """Run on a background thread with its own loop, for sync tests and benchmarks."""
        upstream = cls(responder, record_responses=record_responses, cache=cache)
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
        if path.startswith(control.PREFIX):
            return control.handle(request, self.cache)
        is_messages = request.method == "POST" and path == "/v1/messages"
        seen = SeenRequest(
            method=request.method,
            path=path,
            query=request.query_string,
            headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
            ),
            body=body,
            parsed=loads_or_none(body) if is_messages else UNPARSED,
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
            if not isinstance(loads_or_none(body), dict):
                return _error_response(400, "invalid_request_error", "Malformed JSON body")
            return _json_response(orjson.dumps({"input_tokens": self._count_tokens(body)}))
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
        input_tokens: int | PromptTokens = estimate_tokens(seen.body)
        if self.cache is not None and reply.usage is None:
            input_tokens = self.cache.answer(parsed)
        streaming = reply.stream if reply.stream is not None else parsed.get("stream") is True
        if not streaming:
            payload = encode_json(reply, model, input_tokens)
            if reply.reset_after_events is not None:
                return await _send_truncated(request, reply, payload)
            return _json_response(payload, reply)
        return await _send_stream(request, reply, encode_stream(reply, model, input_tokens))

    def _count_tokens(self, body: bytes) -> int:
        if self.cache is None:
            return estimate_tokens(body)
        return read_prompt(orjson.loads(body)).total_tokens


class _RecordingStream(web.StreamResponse):
    """A streamed response that remembers what it wrote, for ``record_responses``."""

    def __init__(self, *, headers: dict[str, str]) -> None:
        super().__init__(headers=headers)
        self.written: list[bytes] = []

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))
        await super().write(data)


def _base_headers(reply: Reply | None, content_type: str) -> dict[str, str]:
    headers = {"content-type": content_type, "request-id": new_id("req_")}
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
        status = {v: k for k, v in ERROR_TYPES.items()}.get(reply.error_type or "", 500)
    error_type = reply.error_type or ERROR_TYPES.get(status, "api_error")
    message = reply.error_message or ERROR_MESSAGES.get(error_type, f"Fake {error_type}")
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
        message = reply.error_message or ERROR_MESSAGES.get(error_type, f"Fake {error_type}")
        data = orjson.loads(error_body(error_type, message))
        await response.write(sse_event(b"error", data))
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


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream
