"""``/mcp``: the MCP server (official ``mcp`` SDK, Streamable HTTP) as one ASGI app.

``McpEndpoint`` lets a request in (``caller.identify_caller``), bounds its body, and hands it to
the SDK's session manager in stateless JSON-response mode: every POST is a whole exchange, so
nothing is kept between requests and several processes behind one address behave alike. The SDK
answers the protocol (initialize, malformed JSON-RPC, unknown methods); this module maps prompts
(``nexus.prompts``) and tools (``tools.py``) onto it. Refusals are JSON-RPC error objects too.
``run(stop)`` is the session manager's lifetime, a task of the server's TaskSet. Nothing here is
recorded as API traffic: ``/mcp`` never reaches the proxy's forwarder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from mcp import types
from mcp.server.lowlevel import Server as SdkServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import McpError

from nexus import __version__
from nexus.errors import RenderError
from nexus.mcp.caller import Caller, Gatekeeper, Refused, identify_caller
from nexus.mcp.tools import TOOLS, Tools
from nexus.prompts import PromptLibrary, render

log = logging.getLogger("nexus.mcp")
MAX_BODY_BYTES = 1024 * 1024
CALLER_KEY = "nexus.caller"  # where the ASGI scope carries the Caller to the handlers
UNAUTHORIZED = -32001  # JSON-RPC server-defined range: the caller was not let in

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class McpEndpoint:
    """The ASGI app mounted at ``/mcp`` on the proxy port."""

    def __init__(
        self,
        library: PromptLibrary,
        tools: Tools,
        gatekeeper: Gatekeeper,
        *,
        api_key: str | None = None,
    ) -> None:
        self.library = library
        self.tools = tools
        self._gatekeeper = gatekeeper
        self._api_key = api_key
        self._sdk = _build_server(library, tools)
        self._manager = StreamableHTTPSessionManager(self._sdk, json_response=True, stateless=True)
        self._ready = asyncio.Event()
        # The SDK logs every request at INFO; Nexus's log says what matters about MCP itself.
        logging.getLogger("mcp").setLevel(logging.WARNING)

    async def run(self, stop: asyncio.Event) -> None:
        """The session manager's lifetime: until ``stop`` is set."""
        async with self._manager.run():
            self._ready.set()
            await stop.wait()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # The proxy port's server passes header names in the client's case (the proxy forwards
        # them as sent); ASGI apps such as the SDK expect lower case.
        scope["headers"] = [(k.lower(), v) for k, v in scope["headers"]]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        caller = identify_caller(
            self._gatekeeper, self._api_key, headers, client[0] if client else None
        )
        if isinstance(caller, Refused):
            await _error(send, caller.status, UNAUTHORIZED, caller.message)
            return
        body = await _read_body(receive, headers.get("content-length", ""))
        if body is None:
            await _error(send, 413, types.INVALID_REQUEST, _too_large())
            return
        if not self._ready.is_set():
            await _error(send, 503, types.INTERNAL_ERROR, "the MCP server is starting; retry")
            return
        scope[CALLER_KEY] = caller
        await self._manager.handle_request(scope, _replay(body, receive), send)


def _build_server(library: PromptLibrary, tools: Tools) -> SdkServer[Any, Any]:
    server: SdkServer[Any, Any] = SdkServer(
        "nexus",
        version=__version__,
        instructions=(
            "Nexus records this team's Claude Code traffic. Its prompts are the team's prompt "
            "library; its tools search past sessions and show rate-limit windows."
        ),
    )

    @server.list_prompts()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_prompts() -> list[types.Prompt]:
        return [
            types.Prompt(
                name=p.name,
                description=p.description or None,
                arguments=[
                    types.PromptArgument(
                        name=a.name, description=a.description or None, required=a.required
                    )
                    for a in p.arguments
                ],
            )
            for p in library.prompts.values()
        ]

    @server.get_prompt()  # type: ignore[no-untyped-call, untyped-decorator]
    async def get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        prompt = library.get(name)
        if prompt is None:
            known = ", ".join(library.prompts) or "none"
            raise _invalid(f"no prompt named {name!r} (prompts: {known})")
        try:
            text = render(prompt, arguments)
        except RenderError as exc:
            raise _invalid(exc.message) from exc
        return types.GetPromptResult(
            description=prompt.description or None,
            messages=[
                types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))
            ],
        )

    @server.list_tools()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        return [
            types.Tool(
                name=name,
                description=description,
                inputSchema=schema,
                annotations=types.ToolAnnotations(readOnlyHint=True, openWorldHint=False),
            )
            for name, description, schema in TOOLS
        ]

    @server.call_tool()  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        request = server.request_context.request
        caller = request.scope.get(CALLER_KEY) if request is not None else None
        if not isinstance(caller, Caller):  # only reachable if the SDK stops passing the request
            raise RuntimeError("no caller identity on this request")
        return await tools.call(name, arguments, caller)

    return server


def _invalid(message: str) -> McpError:
    return McpError(types.ErrorData(code=types.INVALID_PARAMS, message=message))


def _too_large() -> str:
    return f"the request body is larger than the /mcp limit of {MAX_BODY_BYTES} bytes"


async def _read_body(receive: Receive, length: str) -> bytes | None:
    """The whole request body, or None past ``MAX_BODY_BYTES`` (declared or sent chunked). A body
    too large is still read away, up to a few times the limit, so the client, still sending, reads
    the 413 rather than a reset connection."""
    declared = int(length) if length.isdigit() else 0
    if declared > 8 * MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > 8 * MAX_BODY_BYTES:
            return None
        if not message.get("more_body"):
            break
    return None if size > MAX_BODY_BYTES or declared > MAX_BODY_BYTES else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the SDK: the body already read, then the client's own (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _error(send: Send, status: int, code: int, message: str) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # a refusal may leave the body unread, so the server closes: say so, or a client
                # sends its next call on a connection closing under it
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
