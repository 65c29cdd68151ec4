"""Fixtures that run a real ``nexus serve`` (both apps, writer, SQLite) in the test's event loop.

``nexus`` is a started Server in front of ``fake_upstream``; ``start_nexus(**settings)`` starts more
(other settings, a restart on the same database). Ports are 0: read ``server.endpoints``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nexus.server import Server
from nexus.settings import Settings

StartNexus = Callable[..., Awaitable[Server]]


def nexus_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'nexus.db'}",
        "data_dir": tmp_path / "data",
        "credentials_dir": tmp_path / "credentials",
        "proxy_port": 0,
        "api_port": 0,
        "connect_timeout_s": 2.0,
        "upstream_timeout_s": 10.0,
        "oauth_token_url": "http://127.0.0.1:9/unused",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def start_nexus(tmp_path: Path, fake_upstream: Any) -> AsyncIterator[StartNexus]:
    servers: list[Server] = []

    async def start(**overrides: Any) -> Server:
        overrides.setdefault("upstream_url", fake_upstream.url)
        server = Server(nexus_settings(tmp_path, **overrides))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def nexus(start_nexus: StartNexus) -> Server:
    return await start_nexus()
