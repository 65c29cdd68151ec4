"""End to end inside a real ``nexus serve``: traffic through the proxy, linked into a conversation,
analysed on request by the served worker against the fake Gemini, read back through the API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from tests.analysis.bodies import request_body, user
from tests.fakes.gemini import FakeGemini

SESSION = "7d4c2b1a-0000-4000-8000-00000000abcd"


async def test_a_served_conversation_is_analysed_through_the_api(
    start_nexus: Any, fake_gemini: FakeGemini
) -> None:
    server = await start_nexus(gemini_api_key="g-key", gemini_url=fake_gemini.url)
    endpoints = server.endpoints
    headers = {
        "x-api-key": "sk-ant-api03-CLIENTKEYCLIENTKEY",
        "anthropic-version": "2023-06-01",
        "x-claude-code-session-id": SESSION,
        "user-agent": "claude-cli/2.1.197 (external, cli)",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        body = request_body([user("my secret is sk-ant-api03-LEAKLEAKLEAKLEAK, fix the build")])
        reply = await http.post(f"{endpoints.proxy_url}/v1/messages", content=body, headers=headers)
        assert reply.status_code == 200
        await server.flush()
        conversation_id = None
        for _ in range(200):  # linking runs beside the writer
            page = (await http.get(f"{endpoints.api_url}/api/conversations")).json()
            if page["items"]:
                conversation_id = page["items"][0]["id"]
                break
            await asyncio.sleep(0.02)
        assert conversation_id is not None

        started = await http.post(
            f"{endpoints.api_url}/api/analyses", json={"conversation_id": conversation_id}
        )
        assert started.status_code == 202, started.text
        await fake_gemini.wait_for_calls(1, timeout=10)
        for _ in range(300):
            job = (
                await http.get(f"{endpoints.api_url}/api/analyses/{conversation_id}/main")
            ).json()
            if job["state"] in ("done", "failed"):
                break
            await asyncio.sleep(0.02)
    assert job["state"] == "done", job["error"]
    assert job["result"]["summary"] and job["markdown"].startswith("# Analysis of conversation")
    sent = fake_gemini.calls[0].body
    assert b"fix the build" in sent and b"LEAKLEAKLEAK" not in sent
    assert orjson.loads(sent)["contents"][0]["role"] == "user"
