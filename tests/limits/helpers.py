"""Shared pieces of the limits tests: a team host with named clients and a policy, calls to it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import orjson

from nexus.proxy.client_keys import add_client
from nexus.proxy.credential_files import client_key_id

HOST = "team.example"
ACCOUNT_SECRET = "sk-ant-api03-limits-account-secret-0000000"
KEYS = {
    "alice": "cnp_live_alice-key-0123456789abcdefghijklmnopq",
    "bob": "cnp_live_bob-key-0123456789abcdefghijklmnopqrs",
}
BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


def write_team_host(directory: Path, policy: dict[str, Any] | None, host: str = HOST) -> Path:
    """A credential file for ``host`` with the named clients of ``KEYS`` (stored hashed)."""
    directory.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"type": "api_key", "accountId": "acct-team", "api_key": ACCOUNT_SECRET}
    for name, key in KEYS.items():
        add_client(data, name, key, client_key_id(key), 1_700_000_000_000)
    if policy is not None:
        data["policy"] = policy
    path = directory / f"{host}.credentials.json"
    path.write_bytes(orjson.dumps(data))
    os.chmod(path, 0o600)
    return path


async def call(
    client: httpx.AsyncClient,
    url: str,
    who: str,
    body: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        url + "/v1/messages",
        json=body or BODY,
        headers={"host": HOST, "x-api-key": KEYS[who], **headers},
    )


async def burst(url: str, who: str, count: int) -> list[httpx.Response]:
    """``count`` calls at once (all in flight together)."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=count)) as client:
        return list(await asyncio.gather(*(call(client, url, who) for _ in range(count))))
