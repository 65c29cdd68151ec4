"""`nexus analyze` as a user runs it: a subprocess against a SQLite file and the fake Gemini."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson

from nexus.store.sqlite import SqliteStore
from tests.analysis.bodies import session, store_session
from tests.fakes.gemini import FakeGemini


async def nexus(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nexus",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


async def seeded_db(tmp_path: Path) -> str:
    store = SqliteStore(tmp_path / "nexus.db")
    await store.open()
    await store_session(store, session([("fix the flaky test", "fixed it"), ("thanks", "bye")]))
    await store.close()
    return f"sqlite:///{tmp_path / 'nexus.db'}"


async def test_analyze_wait_prints_the_markdown_and_jobs_lists_it(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    env = {
        "DATABASE_URL": await seeded_db(tmp_path),
        "GEMINI_API_KEY": "g-key",
        "NEXUS_GEMINI_URL": fake_gemini.url,
    }
    code, stdout, stderr = await nexus("analyze", "conv1", "--wait", env=env)
    assert code == 0, stderr
    assert stdout.startswith("# Analysis of conversation conv1 (main)")
    assert "## Prompting tips" in stdout
    assert len(fake_gemini.calls) == 1

    code, stdout, _ = await nexus("analyze", "--jobs", "--json", env=env)
    jobs = [orjson.loads(line) for line in stdout.splitlines()]
    assert code == 0 and [(j["conversation_id"], j["state"]) for j in jobs] == [("conv1", "done")]

    code, stdout, _ = await nexus("analyze", "conv1", "--json", env=env)  # already done: no call
    assert code == 0 and orjson.loads(stdout)["result"]["outcome"]["status"] == "achieved"
    assert len(fake_gemini.calls) == 1


async def test_analyze_without_a_key_says_gemini_api_key_is_needed(tmp_path: Path) -> None:
    env = {"DATABASE_URL": await seeded_db(tmp_path)}
    code, stdout, stderr = await nexus("analyze", "conv1", env=env)
    assert code == 1 and stdout == ""
    assert "GEMINI_API_KEY" in stderr


async def test_failed_analysis_exits_1_with_the_error(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reply_error(403, "Permission denied on the project")
    env = {
        "DATABASE_URL": await seeded_db(tmp_path),
        "GEMINI_API_KEY": "g-key",
        "NEXUS_GEMINI_URL": fake_gemini.url,
    }
    code, stdout, _ = await nexus("analyze", "conv1", "--wait", env=env)
    assert code == 1 and "failed" in stdout and "Permission denied" in stdout
    code, _, stderr = await nexus("analyze", "conv1", "--branch", "nope", env=env)
    assert code == 1 and "no branch 'nope'" in stderr
