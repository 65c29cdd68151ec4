"""A response the upstream compressed is recorded whole (its bytes as sent) and read for its
message, usage and cost, whatever the encoding (issue 14, item 16: ``br`` was stored with none)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import brotli
import httpx
import orjson
import pytest
import zstandard

from tests.fakes.upstream import Reply, encode_json
from tests.recorder.test_poison import BODY, stored

pytestmark = pytest.mark.slow

ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "br": brotli.compress,
    "gzip": gzip.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
async def test_a_compressed_reply_is_stored_with_its_message_usage_and_cost(
    nexus_process: Any, fake_upstream: Any, tmp_path: Any, encoding: str
) -> None:
    url = f"sqlite:///{tmp_path / 'nexus.db'}"
    nexus = await nexus_process(url)
    plain = encode_json(Reply(text="squeezed reply"), "claude-opus-4-8", 1234)
    sent = ENCODERS[encoding](plain)
    fake_upstream.script(
        Reply(raw_body=sent, content_type="application/json",
              headers=(("content-encoding", encoding),))
    )  # fmt: skip
    body = {**BODY, "messages": [{"role": "user", "content": "compress your answer"}]}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(nexus.proxy_url + "/v1/messages", content=orjson.dumps(body))
    assert response.status_code == 200
    request_id = response.headers["x-nexus-request-id"]
    got = (await stored(url, [request_id], timeout_s=10))[request_id]
    assert got.response_body == sent  # the bytes as they came
    summary = got.summary
    assert summary.reply_preview == "squeezed reply"
    assert summary.usage.input_tokens == 1234 and summary.usage.output_tokens > 0
    assert summary.cost_usd_micros
