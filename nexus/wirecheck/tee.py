"""A TCP relay that keeps the bytes a client sent, and a reader that splits them into requests.

``nexus doctor --wire`` puts it between Claude Code and the private Nexus, so "what the client
sent" comes from the socket, not from Nexus's own reading of it. The reader knows just enough
HTTP/1.1 for that: a head up to the blank line (header names kept in their case and order) and a
body framed by ``Content-Length`` or chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from nexus.aio import TaskSet


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One request as the client wrote it on its connection."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes  # de-chunked when the client sent chunks
    is_chunked: bool


@dataclass
class Tee:
    """Listens on ``url``; each connection is relayed to ``target`` (host, port) and recorded."""

    target: tuple[str, int]
    url: str = ""
    _streams: list[bytearray] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: TaskSet = field(default_factory=TaskSet)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._tasks.close()

    def requests(self) -> list[SentRequest]:
        """Every request the client sent, connection by connection, in order."""
        return [r for data in self._streams for r in parse_requests(bytes(data))]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = bytearray()
        self._streams.append(sent)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        back = self._tasks.spawn(_pump(up_reader, writer, None), name="wirecheck-tee-back")
        await _pump(reader, up_writer, sent)
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(back, 30)


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bytearray | None
) -> None:
    try:
        while chunk := await reader.read(65536):
            if keep is not None:
                keep += chunk
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
        writer.close()


def parse_requests(data: bytes) -> list[SentRequest]:
    """The requests in one connection's client-to-server bytes; a cut-off last one is left out."""
    requests: list[SentRequest] = []
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return requests
        lines = data[pos:end].decode("latin-1").split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        headers = tuple(
            (name, value.strip(" \t"))
            for name, value in (line.split(":", 1) for line in lines[1:] if ":" in line)
        )
        pos = end + 4
        names = {k.lower(): v for k, v in headers}
        is_chunked = "chunked" in names.get("transfer-encoding", "").lower()
        if is_chunked:
            parsed = _dechunk(data, pos)
            if parsed is None:
                return requests
            body, pos = parsed
        else:
            length = int(names.get("content-length", "0") or 0)
            if pos + length > len(data):
                return requests
            body, pos = data[pos : pos + length], pos + length
        requests.append(SentRequest(method, target, headers, body, is_chunked))


def _dechunk(data: bytes, pos: int) -> tuple[bytes, int] | None:
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            trailer_end = data.find(b"\r\n", pos)
            while trailer_end > pos:  # skip trailer fields up to the blank line
                pos = trailer_end + 2
                trailer_end = data.find(b"\r\n", pos)
            return (bytes(body), trailer_end + 2) if trailer_end >= 0 else None
        if pos + size + 2 > len(data):
            return None
        body += data[pos : pos + size]
        pos += size + 2
