"""Through a real ``nexus serve``: a client that hangs up before the upstream's headers still
leaves a record, since the call reached the upstream (and may be billed)."""

from __future__ import annotations

import httpx

from tests.fakes.upstream import Reply

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


async def test_a_client_that_hangs_up_before_the_upstream_answers_is_recorded(
    nexus_process, fake_upstream, tmp_path
):
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}")
    fake_upstream.script(Reply(text="late", delay_before_headers_s=3.0))
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=0.5)) as client:
        try:
            await client.post(nexus.proxy_url + "/v1/messages", json=BODY)
        except httpx.ReadTimeout:
            pass  # the client gave up and closed its connection
        else:
            raise AssertionError("the fake upstream answered too early")
    (row,) = await nexus.stored(1)
    assert len(fake_upstream.requests) == 1  # the call did reach the upstream
    assert row["outcome"] == "client_disconnected" and row["status"] is None
    assert "client disconnected" in row["error"]
    async with httpx.AsyncClient(timeout=10) as client:  # and the next call is served and stored
        assert (await client.post(nexus.proxy_url + "/v1/messages", json=BODY)).status_code == 200
    await nexus.stored(2)
