"""Settings `nexus serve` reads from its environment reach the running server."""

from __future__ import annotations

import httpx


async def test_nexus_max_body_bytes_is_the_one_body_limit(tmp_path, nexus_process):
    # It used to be read as NEXUS_MAX_BODY_MB by `serve` and as NEXUS_MAX_BODY_BYTES by Settings;
    # serve's default then overrode the variable the docs name.
    server = await nexus_process(
        f"sqlite:///{tmp_path}/n.db", extra_env={"NEXUS_MAX_BODY_BYTES": "2000"}
    )
    async with httpx.AsyncClient(base_url=server.proxy_url, timeout=10) as http:
        small = await http.post("/v1/messages/count_tokens", content=b'{"x":"' + b"a" * 100 + b'"}')
        large = await http.post(
            "/v1/messages/count_tokens", content=b'{"x":"' + b"a" * 3000 + b'"}'
        )
    assert small.status_code != 413
    assert large.status_code == 413 and b"2000 bytes" in large.content
