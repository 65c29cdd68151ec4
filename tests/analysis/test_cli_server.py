"""`nexus analyze --server` as a user runs it: a subprocess asking a real `nexus serve` (its API
and analysis worker, backed by the fake Gemini) through ``NexusClient``."""

from __future__ import annotations

from pathlib import Path

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


async def test_analyze_prompt_file_runs_on_the_server_with_its_instructions(
    start_nexus: StartNexus, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    server = await start_nexus(gemini_api_key="g-key", gemini_url=fake_gemini.url)
    await seed(server, conversations=1, turns=3)
    async with NexusClient(server.endpoints.api_url) as client:
        conv = (await client.list_conversations()).items[0].id
    env = {"NEXUS_SERVER": server.endpoints.api_url, "GEMINI_API_KEY": ""}
    focus = tmp_path / "tests-only.md"
    focus.write_text("Judge only how tests were run and read.")

    code, stdout, stderr = await nexus(
        "analyze", conv, "--prompt", str(focus), "--wait", "--json", env=env
    )
    assert code == 0, stderr
    job = orjson.loads(stdout)
    assert (job["state"], job["prompt_name"]) == ("done", "tests-only.md")
    assert "Judge only how tests were run" in fake_gemini.calls[-1].text

    code, _, stderr = await nexus("analyze", conv, "--prompt", str(tmp_path / "no.md"), env=env)
    assert code == 2 and "cannot read the prompt file" in stderr
