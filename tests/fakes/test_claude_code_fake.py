"""The real Claude Code CLI against the fake upstream: answers and the shape of what it sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.claude_code import TEST_API_KEY, run_claude
from tests.fakes.upstream import ClaudeCodeResponder, FakeUpstream, SeenRequest

pytestmark = pytest.mark.e2e


def posts(upstream: FakeUpstream) -> list[SeenRequest]:
    return [r for r in upstream.requests if r.method == "POST"]


def answer(stdout: str) -> str:
    result = json.loads(stdout)
    assert result["is_error"] is False, result
    return str(result["result"])


def test_simple_prompt_is_answered_by_the_fake(claude_cli: Path, tmp_path: Path) -> None:
    with FakeUpstream.in_thread(ClaudeCodeResponder()) as upstream:
        done = run_claude(claude_cli, upstream.url, "say hi to nexus", home=tmp_path)

    assert done.returncode == 0, done.stderr
    assert answer(done.stdout) == "You said: say hi to nexus"
    (call,) = posts(upstream)
    assert (call.path, call.query) == ("/v1/messages", "beta=true")
    assert call.header("x-api-key") == TEST_API_KEY
    assert call.header("x-claude-code-agent-id") is None
    body = call.json()
    assert body["stream"] is True and len(body["tools"]) > 10
    session = call.header("x-claude-code-session-id")
    assert session and json.loads(body["metadata"]["user_id"])["session_id"] == session


def test_sub_agent_runs_bash_and_its_calls_carry_the_agent_header(
    claude_cli: Path, tmp_path: Path
) -> None:
    with FakeUpstream.in_thread(ClaudeCodeResponder()) as upstream:
        done = run_claude(
            claude_cli,
            upstream.url,
            "spawn a sub-agent that runs one command, then answer",
            home=tmp_path,
        )

    assert done.returncode == 0, done.stderr
    assert "sub-agent-ok" in answer(done.stdout)
    calls = posts(upstream)
    agents = [c.header("x-claude-code-agent-id") for c in calls]
    assert agents[0] is None and agents[-1] is None
    assert len(calls) == 4 and agents[1] and agents[1] == agents[2]
    assert len({c.header("x-claude-code-session-id") for c in calls}) == 1
    sub_first_user = calls[1].json()["messages"][0]["content"]
    assert any("echo sub-agent-ok" in block.get("text", "") for block in sub_first_user)


def test_tool_loop_and_continue_keep_one_session(claude_cli: Path, tmp_path: Path) -> None:
    with FakeUpstream.in_thread(ClaudeCodeResponder()) as upstream:
        first = run_claude(claude_cli, upstream.url, "please run echo hello-nexus", home=tmp_path)
        second = run_claude(
            claude_cli, upstream.url, "what did it print?", home=tmp_path, extra_args=("-c",)
        )

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "hello-nexus" in answer(first.stdout)
    assert answer(second.stdout) == "You said: what did it print?"
    calls = posts(upstream)
    assert len(calls) == 3
    assert len({c.header("x-claude-code-session-id") for c in calls}) == 1
    history = calls[2].json()["messages"]
    roles = [m["role"] for m in history]
    assert roles[-1] == "user" and roles.count("assistant") == 2
    resent_thinking = [
        block
        for m in history
        if m["role"] == "assistant"
        for block in m["content"]
        if block["type"] == "thinking"
    ]
    assert resent_thinking and all(block["signature"] for block in resent_thinking)
