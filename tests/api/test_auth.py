"""Who may read the API: a key when one is set, else loopback clients only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from nexus.api.auth import check_access, is_loopback
from tests.fakes.api_server import ApiFactory

KEY = "s3cret-dashboard-key"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    """Access control does not depend on the database: SQLite only, to keep the suite quick."""
    from nexus.store.sqlite import SqliteStore

    sqlite_store = SqliteStore(tmp_path / "nexus.db")
    await sqlite_store.open()
    yield sqlite_store
    await sqlite_store.close()


REMOTE = {"client": ("203.0.113.9", 40000)}
LOCAL = {"client": ("127.0.0.1", 40000)}
PATHS = ["/api/requests", "/api/requests/x", "/api/conversations", "/api/events", "/api/usage"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-Dashboard-Key": "wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer " + KEY[:-1]},
    ],
    ids=["missing", "wrong-bearer", "wrong-header", "basic-scheme", "prefix"],
)
async def test_with_a_key_set_missing_or_wrong_keys_get_401(
    make_api: ApiFactory, path: str, headers: dict[str, str]
) -> None:
    api = make_api(api_key=KEY)
    response = await api.client.get(path, headers=headers, scope_base=LOCAL)
    assert response.status_code == 401
    error = orjson.loads(await response.get_data())["error"]
    assert error["type"] == "authentication_error"
    assert "Authorization: Bearer" in error["message"] and KEY not in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {KEY}"}, {"X-Dashboard-Key": KEY}], ids=["bearer", "x"]
)
async def test_with_a_key_set_the_right_key_opens_the_api_to_remote_clients(
    make_api: ApiFactory, headers: dict[str, str]
) -> None:
    api = make_api(api_key=KEY)
    response = await api.client.get("/api/requests", headers=headers, scope_base=REMOTE)
    assert response.status_code == 200


@pytest.mark.parametrize("path", PATHS)
async def test_without_a_key_remote_clients_get_403_saying_how_to_set_one(
    make_api: ApiFactory, path: str
) -> None:
    api = make_api()
    response = await api.client.get(path, scope_base=REMOTE)
    assert response.status_code == 403
    error = orjson.loads(await response.get_data())["error"]
    assert error["type"] == "permission_error"
    assert "DASHBOARD_API_KEY" in error["message"]


async def test_without_a_key_loopback_clients_are_answered(make_api: ApiFactory) -> None:
    api = make_api()
    for client in (("127.0.0.1", 1), ("::1", 1), ("::ffff:127.0.0.1", 1), ("127.8.9.10", 1)):
        response = await api.client.get("/api/requests", scope_base={"client": client})
        assert response.status_code == 200, client


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "198.51.100.7"},
        {"Forwarded": "for=198.51.100.7"},
        {"Host": "attacker.example"},
        {"Host": "attacker.example:3001"},
    ],
    ids=["x-forwarded-for", "forwarded", "rebinding-host", "rebinding-host-port"],
)
async def test_without_a_key_a_local_hop_does_not_make_a_client_local(
    make_api: ApiFactory, headers: dict[str, str]
) -> None:
    api = make_api()
    response = await api.client.get("/api/requests", headers=headers, scope_base=LOCAL)
    assert response.status_code == 403


async def test_health_needs_no_key(make_api: ApiFactory) -> None:
    api = make_api(api_key=KEY)
    response = await api.client.get("/health", scope_base=REMOTE)
    assert response.status_code == 200


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert is_loopback(None)  # no peer address: a unix socket
    assert not is_loopback("10.0.0.1") and not is_loopback("::ffff:10.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("localhost-ish")


def test_local_host_names_are_accepted() -> None:
    for host in ("localhost:3001", "127.0.0.1:3001", "[::1]:3001", "localhost", "[::1]"):
        assert check_access(None, {"host": host}, "127.0.0.1") is None, host
