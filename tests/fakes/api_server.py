"""Read-API fixtures: an app over each store (``api``), Quart's test client on it, and a real
Hypercorn server (``serve_api``) for the live feed and the client, which need a streaming socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart
from quart.testing import QuartClient

from nexus.api.app import make_api_app
from nexus.events import EventBus
from nexus.records import RequestRecord
from nexus.settings import Settings


@dataclass
class Api:
    store: Any
    bus: EventBus
    app: Quart
    client: QuartClient

    async def write(self, records: Sequence[RequestRecord]) -> None:
        await self.store.write_batch(records)


ApiFactory = Callable[..., Api]


@pytest.fixture
def make_api(store: Any, tmp_path: Path) -> ApiFactory:
    """``make_api(api_key=None, poll_interval_s=…, heartbeat_s=…, wire_bus=True)``."""

    def build(
        api_key: str | None = None,
        *,
        poll_interval_s: float = 30.0,
        heartbeat_s: float = 30.0,
        wire_bus: bool = True,
    ) -> Api:
        bus = EventBus()
        if wire_bus:
            store.on_commit = bus.notify
        settings = Settings(data_dir=tmp_path, api_key=api_key)
        app = make_api_app(
            store, settings, bus, poll_interval_s=poll_interval_s, heartbeat_s=heartbeat_s
        )
        return Api(store, bus, app, app.test_client())

    return build


@pytest.fixture
def api(make_api: ApiFactory) -> Api:
    return make_api()


class LiveServer:
    """A Hypercorn server for one app on a fixed loopback port; stop and start it again at will."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("tests.hypercorn")
        config.graceful_timeout = 1
        self._stop = asyncio.Event()
        from nexus.aio import spawn

        self._task = spawn(
            serve(self.app, config, shutdown_trigger=self._stop.wait),  # type: ignore[arg-type]
            name="test-api-server",
        )
        await _wait_listening(self.port)

    async def stop(self) -> None:
        if self._stop is None or self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 10)
        self._stop = self._task = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"the test API server did not listen on {port}")


@pytest.fixture
async def serve_api() -> AsyncIterator[Callable[[Api], Awaitable[LiveServer]]]:
    """``server = await serve_api(api)``: the app on a real socket, stopped after the test."""
    servers: list[LiveServer] = []

    async def start(api: Api) -> LiveServer:
        server = LiveServer(api.app)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.app.extensions["nexus"].bus.close()
        await server.stop()
