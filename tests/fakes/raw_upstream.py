"""An upstream that keeps the exact bytes of each request and answers one canned response.

It parses nothing it does not have to: the request head is split on CRLF as it arrived (names in
their case, in their order, duplicates kept) and the body is read by ``Content-Length``, so a test
sees what an HTTP stack put on the wire, not what a framework made of it. The ``raw_upstream``
fixture yields a started one; point a Nexus at ``raw_upstream.url``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

_BODY = b'{"type":"message","id":"msg_raw","role":"assistant","content":[],"usage":{}}'
CANNED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_raw\r\n"
    + f"content-length: {len(_BODY)}\r\n\r\n".encode()
    + _BODY
)


@dataclass(frozen=True, slots=True)
class RawRequest:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name, value) exactly as on the wire: case, order and duplicates kept."""
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        pairs = [line.split(":", 1) for line in lines if line]
        return [(name, value.strip(" \t")) for name, value in pairs]


@dataclass
class RawUpstream:
    requests: list[RawRequest] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n"))[:-4]
                request = RawRequest(head, b"")
                length = next(
                    (int(v) for k, v in request.headers if k.lower() == "content-length"), 0
                )
                body = await reader.readexactly(length) if length else b""
                self.requests.append(RawRequest(head, body))
                writer.write(CANNED)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw_upstream() -> AsyncIterator[RawUpstream]:
    upstream = RawUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()
