"""The real Claude Code CLI → nexus serve → fake upstream: the trees a person lived come out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from nexus.records import RequestFilter
from tests.fakes.claude_code import run_claude
from tests.fakes.upstream import ClaudeCodeResponder

pytestmark = pytest.mark.e2e


async def _claude(cli: Path, server: Any, prompt: str, home: Path, *args: str) -> None:
    done = await asyncio.to_thread(
        run_claude, cli, server.endpoints.proxy_url, prompt, home=home, extra_args=args
    )
    assert done.returncode == 0, done.stderr


async def _only_conversation(server: Any) -> Any:
    await server.flush()
    page = await server.store.list_conversations(RequestFilter())
    assert len(page.items) == 1, page.items
    tree = await server.store.get_conversation(page.items[0].id)
    return [n for n in tree.nodes if n.path == "/v1/messages"], tree


async def test_sub_agent_session_is_one_conversation_with_a_sub_task(
    claude_cli: Path, nexus: Any, fake_upstream: Any, tmp_path: Path
) -> None:
    fake_upstream.responder = ClaudeCodeResponder()
    await _claude(
        claude_cli, nexus, "spawn a sub-agent that runs one command, then answer", tmp_path
    )
    (parent, sub1, sub2, final), tree = await _only_conversation(nexus)
    assert [n.traffic_class for n in (parent, sub1, sub2, final)] == [
        "turn",
        "subagent",
        "subagent",
        "turn",
    ]
    assert (sub1.parent_request_id, sub1.subtask_of, sub1.branch) == (
        parent.id,
        parent.id,
        "task-1",
    )
    assert (sub2.parent_request_id, sub2.branch) == (sub1.id, "task-1")
    assert (final.parent_request_id, final.branch) == (parent.id, "main")
    assert [s.request_id for s in tree.subtasks] == [sub1.id]
    assert tree.summary.subtask_count == 1 and tree.summary.class_counts["subagent"] == 2


async def test_continue_session_extends_the_same_conversation(
    claude_cli: Path, nexus: Any, fake_upstream: Any, tmp_path: Path
) -> None:
    fake_upstream.responder = ClaudeCodeResponder()
    await _claude(claude_cli, nexus, "please run echo hello-nexus", tmp_path)
    await _claude(claude_cli, nexus, "what did it print?", tmp_path, "-c")
    (first, second, third), tree = await _only_conversation(nexus)
    assert [(n.parent_request_id, n.branch) for n in (first, second, third)] == [
        (None, "main"),
        (first.id, "main"),
        (second.id, "main"),
    ]
    assert tree.summary.title == "please run echo hello-nexus"
    assert tree.summary.last_user_preview == "what did it print?"
