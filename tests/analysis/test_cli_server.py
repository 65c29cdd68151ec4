"""`nexus analyze --server` as a user runs it: a subprocess asking a real `nexus serve` (its API
and analysis worker, backed by the fake Gemini) through ``NexusClient``."""

from __future__ import annotations

import orjson

from nexus.client import NexusClient
from tests.analysis.test_cli import nexus
from tests.fakes.gemini import FakeGemini
from tests.fakes.nexus import StartNexus
from tests.tui.seed import seed


async def test_analyze_server_waits_for_the_servers_worker_and_lists_its_jobs(
    start_nexus: StartNexus, fake_gemini: FakeGemini
) -> None:
    server = await start_nexus(gemini_api_key="g-key", gemini_url=fake_gemini.url)
    await seed(server, conversations=1, turns=3)
    async with NexusClient(server.endpoints.api_url) as client:
        conv = (await client.list_conversations()).items[0].id
    env = {"NEXUS_SERVER": server.endpoints.api_url, "GEMINI_API_KEY": ""}

    code, stdout, stderr = await nexus("analyze", conv, "--wait", "--json", env=env)
    assert code == 0, stderr
    job = orjson.loads(stdout)
    assert (job["conversation_id"], job["state"]) == (conv, "done")
    assert len(fake_gemini.calls) == 1

    code, stdout, _ = await nexus("analyze", "--jobs", "--json", "--state", "done", env=env)
    assert code == 0
    assert [orjson.loads(line)["conversation_id"] for line in stdout.splitlines()] == [conv]

    code, _, stderr = await nexus("analyze", conv, "--branch", "nope", env=env)
    assert code == 1 and "nope" in stderr
