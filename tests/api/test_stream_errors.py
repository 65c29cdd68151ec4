"""A 200 whose stream ends in ``event: error`` (overloaded mid-stream), through a real ``nexus serve``:
the client gets the event untouched, the record says ``stream_error`` with the event's type and
message, and the read API counts it as an error (``status=error``, usage ``errors``)."""

from __future__ import annotations

import httpx

from tests.fakes.upstream import Reply

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


async def stream(server) -> bytes:
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST", server.endpoints.proxy_url + "/v1/messages", json=BODY,
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        ) as response:  # fmt: skip
            assert response.status_code == 200
            return b"".join([chunk async for chunk in response.aiter_raw()])


async def test_an_error_event_in_a_200_stream_is_an_error_in_the_record_and_the_api(
    nexus, fake_upstream
):
    fake_upstream.script(
        Reply(text="a long answer " * 20, error_event_after=4, error_message="Overloaded"),
        Reply(text="fine"),
    )
    failed = await stream(nexus)
    await stream(nexus)
    assert failed.rstrip().endswith(b'"message":"Overloaded"}}')
    await nexus.flush()
    async with httpx.AsyncClient(base_url=nexus.endpoints.api_url) as api:
        errors = (await api.get("/api/requests", params={"status": "error"})).json()["items"]
        everything = (await api.get("/api/requests")).json()["items"]
        usage = (await api.get("/api/usage")).json()
    (row,) = errors
    assert row["status"] == 200 and row["outcome"] == "stream_error"
    assert row["error"] == "overloaded_error: Overloaded"
    assert len(everything) == 2
    assert next(r for r in everything if r["id"] != row["id"])["outcome"] == "complete"
    assert (usage["total"]["requests"], usage["total"]["errors"]) == (2, 1)
