"""A call refused before forwarding is recorded with a bounded body (issue 14, item 11): in team
mode a client without a valid key could otherwise fill the database (10 refused 30 MB calls
added 227 MB). Through a real ``nexus serve``: the first KB are kept, with the size and the SHA-256's start."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from nexus.numbers import tokens
from nexus.recorder.tap import REFUSED_BODY_KEPT
from tests.fakes.serve_process import free_port
from tests.recorder.test_poison import BODY, stored

pytestmark = pytest.mark.slow


async def test_a_refused_call_keeps_a_bounded_body_with_its_size_and_hash(
    serve_db_url: str,
    nexus_process: Any,
    fake_upstream: Any,
    tmp_path: Path,
) -> None:
    port = free_port()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    path = credentials / f"127.0.0.1:{port}.credentials.json"
    path.write_bytes(orjson.dumps({
        "type": "api_key", "accountId": "acct-team", "api_key": "sk-ant-api03-team-secret-0000",
        "client_api_key": "cnp_live_teamkey0123456789abcdefghij",
    }))  # fmt: skip
    os.chmod(path, 0o600)
    nexus = await nexus_process(serve_db_url, proxy_port=port)
    body = orjson.dumps(
        {**BODY, "messages": [{"role": "user", "content": "no key " + "x" * 5_000_000}]}
    )
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            nexus.proxy_url + "/v1/messages",
            content=body,
            headers={"content-type": "application/json", "x-api-key": "cnp_live_wrong"},
        )
    assert response.status_code == 401
    assert not fake_upstream.requests
    request_id = response.headers["x-nexus-request-id"]
    got = (await stored(serve_db_url, [request_id], timeout_s=10))[request_id]
    assert got.request_body == body[:REFUSED_BODY_KEPT]
    error = got.summary.error
    assert f"of {tokens(len(body))}B" in error and hashlib.sha256(body).hexdigest()[:16] in error
