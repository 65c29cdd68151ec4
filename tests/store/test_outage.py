"""Postgres goes away mid-run: every request is still proxied, and once it is back every record is
in the database exactly once.

A TCP forwarder written here stands between Nexus and the real Postgres. ``cut()`` closes its
listening socket and resets every open connection (what a crashed or restarted server, or a broken
network, looks like to asyncpg); ``restore()`` listens on the same port again.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import urllib.parse
import uuid

import asyncpg
import httpx
import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


class TcpForwarder:
    """127.0.0.1:<port> → ``target``, byte for byte, until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_w)
            return
        self.connections += 1
        pair = {client_w, server_w}
        self._open |= pair
        try:
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
        finally:
            for writer in pair:
                writer.close()
            self._open -= pair

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            _reset(writer)
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()  # same port: asyncio sets SO_REUSEADDR

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, not a polite FIN: the peer learns on its next read or write."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.fileno() >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def via(url: str, port: int, schema: str) -> str:
    """``url`` pointed at 127.0.0.1:``port``, with every connection's search_path set to ``schema``
    (asyncpg passes unknown query parameters as server settings)."""
    parts = urllib.parse.urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=f"search_path={schema}"))


class Traffic:
    """Clients calling the proxy without pause; remembers each answer's Nexus request id."""

    def __init__(self, proxy_url: str, concurrency: int = 4) -> None:
        self.proxy_url = proxy_url
        self.concurrency = concurrency
        self.answers: list[tuple[int, str]] = []
        self.changed = asyncio.Condition()
        self.stopping = False

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(*(self._client(client, i) for i in range(self.concurrency)))

    async def _client(self, client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not self.stopping:
            i += 1
            stream = (n + i) % 2 == 0
            response = await client.post(
                self.proxy_url + "/v1/messages", json={**BODY, "stream": stream}
            )
            async with self.changed:
                self.answers.append((response.status_code, response.headers["x-nexus-request-id"]))
                self.changed.notify_all()

    async def until(self, condition, timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s), self.changed:
            await self.changed.wait_for(condition)


@pytest.fixture
async def schema(pg_url):
    name = f"outage_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_url)
    await conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    await conn.close()


@pytest.fixture
async def forwarder(pg_url):
    forwarder = TcpForwarder(("127.0.0.1", urllib.parse.urlsplit(pg_url).port or 5432))
    await forwarder.start()
    yield forwarder
    await forwarder.close()


async def test_requests_are_proxied_through_a_postgres_outage_and_all_recorded_once(
    forwarder, start_nexus, pg_url, schema
):
    # Retry quickly so the test does not wait out production back-off (1 s doubling to 15 s).
    server = await start_nexus(database_url=via(pg_url, forwarder.port, schema), store_retry_s=0.05)
    recorder = server.recorder  # the child process that stores; it reports how it fares
    traffic = Traffic(server.endpoints.proxy_url)
    async with asyncio.TaskGroup() as group:
        group.create_task(traffic.run())
        await traffic.until(lambda: len(traffic.answers) >= 15)

        await forwarder.cut()
        at_cut = len(traffic.answers)
        await traffic.until(
            lambda: recorder.status.failures >= 2 and len(traffic.answers) >= at_cut + 30
        )
        assert recorder.status.healthy is False
        assert recorder.stored < server.spool.position(), "the outage's records wait in the spool"

        await forwarder.restore()
        at_restore = len(traffic.answers)
        await traffic.until(lambda: len(traffic.answers) >= at_restore + 15)
        traffic.stopping = True

    assert {status for status, _ in traffic.answers} == {200}
    await server.flush(timeout_s=20)
    assert recorder.status.healthy is True

    sent = [request_id for _, request_id in traffic.answers]
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    try:
        stored = [r[0] for r in await conn.fetch("SELECT id FROM requests")]
        events = await conn.fetch(
            "SELECT ref_id, count(*) FROM events WHERE kind = 'request' GROUP BY ref_id"
        )
    finally:
        await conn.close()
    assert len(stored) == len(set(stored)) == len(sent)
    assert set(stored) == set(sent)
    assert {r[0] for r in events} == set(sent) and {r[1] for r in events} == {1}
    assert forwarder.connections > 2, "the pool must have reconnected after the cut"
    # The LISTEN task is cancelled at stop; waiting for it would cost the whole drain deadline.
    async with asyncio.timeout(5):
        await server.stop()
