"""A custom analysis prompt: checked, keyed by its text, sent to the model in place of the
built-in instructions (the answer's fields still described), recorded with the job, and chosen
through the API and ``nexus analyze --prompt``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from nexus.analysis.gemini import GeminiAnalyzer
from nexus.analysis.jobs import AnalysisWorker, request_analysis
from nexus.analysis.prompts import (
    MAX_PROMPT_CHARS,
    PROMPT_VERSION,
    BadPrompt,
    PromptChoice,
    custom_prompt,
    read_prompt_file,
    system_prompt,
)
from nexus.store.base import JobState
from tests.analysis.bodies import session, store_session
from tests.analysis.test_api_routes import body, client_for
from tests.fakes.gemini import FakeGemini

TURNS = [("fix the flaky test", "fixed the race"), ("thanks", "welcome")]
FOCUS = "Judge only the commit messages Claude wrote: are they clear to a reviewer?"


@pytest.fixture
async def analyzer(fake_gemini: FakeGemini) -> AsyncIterator[GeminiAnalyzer]:
    analyzer = GeminiAnalyzer(api_key="g-key", model="gemini-2.5-pro", base_url=fake_gemini.url)
    yield analyzer
    await analyzer.aclose()


def test_a_custom_prompt_is_checked_and_keyed_by_its_text(tmp_path: Path) -> None:
    choice = custom_prompt(f"  {FOCUS}\n", "review.md")
    assert (choice.name, choice.text) == ("review.md", FOCUS)
    assert choice.key.startswith("custom-") and choice.key == custom_prompt(FOCUS).key
    assert custom_prompt(FOCUS + " Also tests.").key != choice.key
    assert PromptChoice().key == PROMPT_VERSION
    for bad, why in (("  \n", "empty"), ("x" * (MAX_PROMPT_CHARS + 1), "at most"),
                     ("a\x00b", "NUL")):  # fmt: skip
        with pytest.raises(BadPrompt, match=why):
            custom_prompt(bad)
    path = tmp_path / "focus.md"
    path.write_text(FOCUS)
    assert read_prompt_file(path) == PromptChoice("focus.md", FOCUS)
    path.write_bytes(b"\xff\xfe not text")
    with pytest.raises(BadPrompt, match="not UTF-8"):
        read_prompt_file(path)
    with pytest.raises(BadPrompt, match="cannot read"):
        read_prompt_file(tmp_path / "missing.md")


def test_custom_instructions_replace_the_built_in_ones_and_the_fields_stay() -> None:
    built_in, custom = system_prompt(), system_prompt(FOCUS)
    assert "Your reader is a team lead" in built_in and "Your reader" not in custom
    assert custom.startswith(FOCUS)
    fields = built_in[built_in.index("Answer with one JSON object") :]
    assert custom.endswith(fields) and "prompting_tips" in fields


async def test_the_worker_sends_the_custom_prompt_and_the_job_records_it(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini
) -> None:
    await store_session(job_store, session(TURNS))
    built_in = await request_analysis(job_store, "conv1")
    custom = await request_analysis(job_store, "conv1", prompt=custom_prompt(FOCUS, "commits.md"))
    assert custom.id != built_in.id and custom.prompt_version.startswith("custom-")
    fake_gemini.reply_json()
    fake_gemini.reply_json()
    worker = AnalysisWorker(job_store, analyzer, poll_s=0.01)
    ran = [await worker.run_once(), await worker.run_once()]
    assert {job.state for job in ran if job} == {JobState.DONE}
    systems = {orjson.dumps(c.json["systemInstruction"]).decode() for c in fake_gemini.calls}
    assert sum(FOCUS in s for s in systems) == 1 and len(systems) == 2
    done = await job_store.find_analysis("conv1", "main", custom.prompt_version)
    assert (done.prompt_name, done.prompt_text) == ("commits.md", FOCUS)
    assert done.markdown.splitlines()[0].endswith("(main), prompt commits.md")
    plain = await job_store.find_analysis("conv1", "main", PROMPT_VERSION)
    assert plain.id == built_in.id and plain.prompt_name is None


async def test_the_api_takes_a_custom_prompt_checks_it_and_reads_its_job_back(
    job_store: Any, tmp_path: Path
) -> None:
    await store_session(job_store, session(TURNS))
    client = client_for(job_store, tmp_path)
    started = await client.post(
        "/api/conversations/conv1/analyses?branch=main",
        json={"prompt": FOCUS, "prompt_name": "commits.md"},
    )
    assert started.status_code == 202
    job = await body(started)
    assert job["prompt_name"] == "commits.md" and job["prompt_text"] == FOCUS
    assert job["prompt_version"] == custom_prompt(FOCUS).key
    await client.post("/api/analyses", json={"conversation_id": "conv1"})  # the built-in one
    read = await client.get(f"/api/analyses/conv1/main?prompt={job['prompt_version']}")
    assert (await body(read))["id"] == job["id"]
    default = await body(await client.get("/api/conversations/conv1/analyses?branch=main"))
    assert default["prompt_name"] == "built-in" and default["prompt_version"] == PROMPT_VERSION
    for bad, field in (({"prompt": ""}, "prompt"), ({"prompt": 3}, "prompt"),
                       ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "prompt"),
                       ({"prompt": FOCUS, "prompt_name": ["x"]}, "prompt_name")):  # fmt: skip
        refused = await client.post("/api/analyses", json={"conversation_id": "conv1", **bad})
        assert refused.status_code == 400, bad
        assert field in (await body(refused))["error"]["message"]
