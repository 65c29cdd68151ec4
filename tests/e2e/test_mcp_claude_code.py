"""The real Claude Code CLI connects to /mcp: `claude mcp add` then `claude mcp list` shows Nexus
connected, a prompt used as a slash command reaches the fake upstream rendered, and a tool call
the model makes is answered from Nexus's store."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from nexus.records import RequestFilter
from tests.fakes.claude_code import claude_env, run_claude
from tests.fakes.upstream import ClaudeCodeResponder, Reply, ToolUse, last_user_text, tool_results

pytestmark = pytest.mark.e2e

REVIEW = """\
name: review
description: Review the current diff
arguments:
  - name: focus
    description: What to look at first
    required: true
template: "Please review the diff, looking at {{ focus }} first. (rendered by nexus)"
"""


def cli(cli_path: Path, base_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(cli_path), *args], cwd=workdir, env=claude_env(base_url, home),
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


async def test_claude_code_uses_nexus_prompts_and_tools(
    claude_cli, start_nexus, fake_upstream, tmp_path
):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "review.yaml").write_text(REVIEW)
    nexus = await start_nexus(prompts_dir=prompts)
    base = nexus.endpoints.proxy_url
    home = tmp_path / "home"

    added = await asyncio.to_thread(
        cli, claude_cli, base, home, "mcp", "add", "--transport", "http", "nexus", base + "/mcp"
    )
    assert added.returncode == 0, added.stderr
    listed = await asyncio.to_thread(cli, claude_cli, base, home, "mcp", "list")
    assert "nexus" in listed.stdout and "Connected" in listed.stdout, listed.stdout + listed.stderr

    done = await asyncio.to_thread(
        run_claude, claude_cli, base, "/mcp__nexus__review migrations", home=home
    )
    assert done.returncode == 0, done.stderr
    seen = [r for r in fake_upstream.requests if r.path == "/v1/messages"]
    texts = [last_user_text(r.json()) for r in seen]
    assert any(
        "Please review the diff, looking at migrations first. (rendered by nexus)" in t
        for t in texts
    )


class SearchingResponder(ClaudeCodeResponder):
    """Claude Code's model, scripted: asked to "search nexus for X", it calls Nexus's
    search_conversations tool; given the tool's result, it quotes it (ClaudeCodeResponder)."""

    def __call__(self, request):
        body = request.json()
        prompt = last_user_text(body) if isinstance(body, dict) else ""
        if "search nexus for" in prompt and not tool_results(body):
            query = prompt.split("search nexus for", 1)[1].strip()
            return Reply(
                text="Searching Nexus.",
                tool_uses=(ToolUse("mcp__nexus__search_conversations", {"query": query}),),
            )
        return super().__call__(request)


async def test_claude_code_calls_a_nexus_tool_and_gets_the_conversation(
    claude_cli, start_nexus, fake_upstream, tmp_path
):
    nexus = await start_nexus(prompts_dir=tmp_path / "no-prompts")
    base = nexus.endpoints.proxy_url
    async with httpx.AsyncClient() as client:
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "how do we fix the flaky migration test?"}],
        }
        assert (await client.post(base + "/v1/messages", json=body)).is_success
    await nexus.flush()
    async with asyncio.timeout(20):
        while not (page := await nexus.store.list_conversations(RequestFilter(), None, 5)).items:
            await asyncio.sleep(0.1)
    conversation_id = page.items[0].id
    home = tmp_path / "home"
    added = await asyncio.to_thread(
        cli, claude_cli, base, home, "mcp", "add", "--transport", "http", "nexus", base + "/mcp"
    )
    assert added.returncode == 0, added.stderr
    fake_upstream.responder = SearchingResponder()
    before = await nexus.store.count_requests(RequestFilter())

    done = await asyncio.to_thread(
        run_claude, claude_cli, base, "search nexus for flaky migration", home=home
    )
    assert done.returncode == 0, done.stderr
    results = [tool_results(r.json()) for r in fake_upstream.requests if r.path == "/v1/messages"]
    answered = [text for found in results for text in found if conversation_id in text]
    assert answered, results  # the tool result that reached the next request holds the conversation
    assert "flaky migration" in answered[0]
    assert conversation_id in json.loads(done.stdout)["result"]
    # what Nexus recorded is Claude Code's API calls only: the MCP calls are not among them
    await nexus.flush()
    page = await nexus.store.list_requests(RequestFilter(), None, 500)
    assert not [r for r in page.items if r.path.startswith("/mcp")]
    assert len(page.items) > before


async def test_team_mode_connects_with_the_hosts_client_key_only(claude_cli, start_nexus, tmp_path):
    nexus = await start_nexus(prompts_dir=tmp_path / "no-prompts")
    base = nexus.endpoints.proxy_url
    key = "cnp_live_e2e0123456789abcdefghijklm"
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    path = folder / f"{base.removeprefix('http://')}.credentials.json"
    path.write_text(
        json.dumps(
            {"type": "api_key", "accountId": "acct", "api_key": "sk-ant-api03-x" * 3,
             "client_api_key": key}
        )
    )  # fmt: skip
    path.chmod(0o600)
    for name, bearer in (("good", key), ("bad", "cnp_live_not-the-key-0000000000")):
        home = tmp_path / name
        added = await asyncio.to_thread(
            cli, claude_cli, base, home, "mcp", "add", "--transport", "http", "nexus",
            base + "/mcp", "--header", f"Authorization: Bearer {bearer}",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        listed = await asyncio.to_thread(cli, claude_cli, base, home, "mcp", "list")
        line = next(x for x in listed.stdout.splitlines() if x.startswith("nexus:"))
        assert ("Connected" in line) == (name == "good"), line
