"""Through a real ``nexus serve`` with no API key (loopback only): a web page of another origin
cannot change state through the API, not even with a CORS-simple ``text/plain`` POST."""

from __future__ import annotations

import asyncio

import httpx

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}
EVIL = {"origin": "http://evil.example"}


async def test_cross_origin_or_non_json_calls_that_change_state_are_refused(
    nexus_process, tmp_path
):
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'nexus.db'}",
        extra_env={"GEMINI_API_KEY": "fake-gemini-key", "NEXUS_GEMINI_URL": "http://127.0.0.1:9"},
    )
    api = nexus.api_url
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(nexus.proxy_url + "/v1/messages", json=BODY)).is_success
        async with asyncio.timeout(15):
            while not (
                conversations := (await client.get(api + "/api/conversations")).json()["items"]
            ):
                await asyncio.sleep(0.1)
        conversation = conversations[0]["id"]
        payload = f'{{"conversation_id": "{conversation}"}}'
        attempts = [
            ("/api/analyses", {**EVIL, "content-type": "text/plain"}, payload, 403),
            ("/api/analyses", {**EVIL, "content-type": "application/json"}, payload, 403),
            ("/api/analyses", {"sec-fetch-site": "cross-site", "content-type": "application/json"}, payload, 403),
            ("/api/analyses", {"content-type": "text/plain"}, payload, 415),
            ("/api/analyses", {"content-type": "application/x-www-form-urlencoded"}, payload, 415),
            (f"/api/conversations/{conversation}/analyses", EVIL, "", 403),
            (f"/api/conversations/{conversation}/analyses", {"origin": "null"}, "", 403),
        ]  # fmt: skip
        for path, headers, content, status in attempts:
            answer = await client.post(api + path, headers=headers, content=content)
            assert answer.status_code == status, (path, headers, answer.text)
            # its body unread, the connection closes: the answer says so, so no call is sent on it
            assert answer.headers.get("connection") == "close"
        assert (await client.get(api + "/api/analyses")).json()["items"] == []  # nothing started
        assert (await client.get(api + "/api/requests", headers=EVIL)).status_code == 200  # reads
        own = await client.post(api + "/api/analyses", json={"conversation_id": conversation})
        assert own.is_success, own.text  # Nexus's own clients: no Origin, JSON
        assert len((await client.get(api + "/api/analyses")).json()["items"]) == 1
