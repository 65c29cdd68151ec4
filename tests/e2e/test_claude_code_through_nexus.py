"""The real Claude Code CLI → Nexus → fake upstream: answers arrive, and every call is recorded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from nexus.records import RequestFilter
from tests.fakes.claude_code import TEST_API_KEY, run_claude
from tests.fakes.upstream import ClaudeCodeResponder

pytestmark = pytest.mark.e2e


def answer(stdout: str) -> str:
    result = json.loads(stdout)
    assert result["is_error"] is False, result
    return str(result["result"])


async def claude(cli: Path, server, prompt: str, home: Path, *args: str):
    return await asyncio.to_thread(
        run_claude, cli, server.endpoints.proxy_url, prompt, home=home, extra_args=args
    )


async def recorded(server):
    await server.flush()
    page = await server.store.list_requests(RequestFilter(), None, 500)
    return sorted(page.items, key=lambda s: s.id)


async def test_a_prompt_through_nexus_is_answered_and_recorded(
    claude_cli, nexus, fake_upstream, tmp_path
):
    fake_upstream.responder = ClaudeCodeResponder()
    done = await claude(claude_cli, nexus, "say hi to nexus", tmp_path)
    assert done.returncode == 0, done.stderr
    assert answer(done.stdout) == "You said: say hi to nexus"
    (row,) = [r for r in await recorded(nexus) if r.path == "/v1/messages"]
    assert row.status == 200 and row.is_streaming
    assert row.model and row.model.startswith("claude-")
    assert row.user_preview == "say hi to nexus"
    assert row.reply_preview == "You said: say hi to nexus"
    assert row.usage.output_tokens > 0
    stored = await nexus.store.get_request(row.id)
    seen = [r for r in fake_upstream.requests if r.method == "POST"][0]
    assert stored.request_body == seen.body  # the exact bytes Claude Code sent, as forwarded
    assert TEST_API_KEY not in repr(stored.request_headers)
    assert row.session_id == seen.header("x-claude-code-session-id")


async def test_a_sub_agent_session_is_recorded_call_by_call(
    claude_cli, nexus, fake_upstream, tmp_path
):
    fake_upstream.responder = ClaudeCodeResponder()
    done = await claude(
        claude_cli, nexus, "spawn a sub-agent that runs one command, then answer", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "sub-agent-ok" in answer(done.stdout)
    rows = [r for r in await recorded(nexus) if r.path == "/v1/messages"]
    assert len(rows) == 4
    assert len({r.session_id for r in rows}) == 1
    agents = [r.agent_id for r in rows]
    assert agents[0] is None and agents[3] is None and agents[1] and agents[1] == agents[2]
    assert rows[0].tool_use_count == 1 and rows[1].tool_use_count == 1


async def test_continue_keeps_one_session_across_two_cli_runs(
    claude_cli, nexus, fake_upstream, tmp_path
):
    fake_upstream.responder = ClaudeCodeResponder()
    first = await claude(claude_cli, nexus, "please run echo hello-nexus", tmp_path)
    second = await claude(claude_cli, nexus, "what did it print?", tmp_path, "-c")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    rows = [r for r in await recorded(nexus) if r.path == "/v1/messages"]
    assert len(rows) == 3
    assert len({r.session_id for r in rows}) == 1
    assert rows[-1].message_count > rows[0].message_count
