"""Fixtures for ``/mcp``: a database URL per dialect, the SDK's own client, traffic to find."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

REVIEW = """\
name: review
description: Review the current diff
arguments:
  - name: focus
    description: What to look at first
    required: true
  - name: tone
    description: How to say it
template: |
  Review the diff. Look at {{ focus }} first.{% if tone %} Be {{ tone }}.{% endif %}
"""


@pytest.fixture
def database_url(serve_db_url: str) -> str:
    return serve_db_url


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "review.yaml").write_text(REVIEW)
    return folder


@contextlib.asynccontextmanager
async def mcp_session(
    url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized session of the MCP SDK's client against ``url`` (…/mcp)."""
    async with (
        httpx.AsyncClient(headers=headers or {}, timeout=20) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def say(proxy_url: str, text: str, *, headers: dict[str, str] | None = None) -> None:
    """One Claude Code-like turn through the proxy (its own session id: its own conversation)."""
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": text}],
    }
    hdrs = {"x-claude-code-session-id": str(uuid.uuid4()), **(headers or {})}
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(proxy_url + "/v1/messages", json=body, headers=hdrs)
        answer.raise_for_status()


async def linked(api_url: str, count: int, timeout_s: float = 20.0) -> list[Any]:
    """The request rows once ``count`` are stored and linked into conversations."""
    async with httpx.AsyncClient(timeout=10) as client, asyncio.timeout(timeout_s):
        while True:
            items: list[Any] = (await client.get(api_url + "/api/requests")).json()["items"]
            if len(items) >= count and all(i.get("conversation_id") for i in items):
                return items
            await asyncio.sleep(0.1)


def structured(result: Any) -> Any:
    assert not result.isError, result.content
    return result.structuredContent
