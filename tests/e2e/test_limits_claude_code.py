"""The real Claude Code CLI with a key over its budget: Nexus's 429 reaches the person, naming the
limit, at once (no retries), and the refused calls are recorded under the person's name."""

from __future__ import annotations

import asyncio
import json

import pytest

from nexus.records import RequestFilter
from tests.fakes.claude_code import run_claude
from tests.fakes.upstream import ClaudeCodeResponder, LoopingResponder
from tests.limits.helpers import KEYS, write_team_host

pytestmark = pytest.mark.e2e


async def test_claude_code_over_its_budget_shows_the_429_message(
    any_claude_cli, start_nexus, fake_upstream, tmp_path
):
    fake_upstream.responder = ClaudeCodeResponder()
    server = await start_nexus()
    host = server.endpoints.proxy_url.removeprefix("http://")  # the Host Claude Code sends
    write_team_host(tmp_path / "credentials", {"clients": {"alice": {"usd_per_day": 0}}}, host)
    await asyncio.sleep(1.1)  # the proxy looks at credential files once a second
    done = await asyncio.to_thread(
        run_claude, any_claude_cli.path, server.endpoints.proxy_url, "say hi", home=tmp_path,
        env={"ANTHROPIC_API_KEY": KEYS["alice"]}, timeout=90,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    print(shown[:600])
    result = json.loads(done.stdout)
    assert result["is_error"] is True, shown
    assert "Nexus limit reached: dollars per day for client alice@" in shown, shown
    assert not [r for r in fake_upstream.requests if r.path == "/v1/messages"]

    await server.flush()
    rows = [
        r
        for r in (await server.store.list_requests(RequestFilter(), None, 100)).items
        if r.path == "/v1/messages"
    ]
    assert rows and all(r.status == 429 and r.client_key_id == f"alice@{host}" for r in rows)
    assert len(rows) <= 3, "x-should-retry: false must stop Claude Code's retries"


async def test_claude_code_stuck_in_a_tool_loop_is_stopped_by_the_runaway_guard(
    any_claude_cli, start_nexus, fake_upstream, tmp_path
):
    fake_upstream.responder = LoopingResponder(tool_input={"command": "echo again",
                                                            "description": "Print again"})  # fmt: skip
    server = await start_nexus()
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_team_host(tmp_path / "credentials", {"runaway": {"repeats": 3, "refuse": True}}, host)
    await asyncio.sleep(1.1)
    done = await asyncio.to_thread(
        run_claude, any_claude_cli.path, server.endpoints.proxy_url, "make the tests pass",
        home=tmp_path, env={"ANTHROPIC_API_KEY": KEYS["bob"]}, timeout=120,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert (
        "Nexus runaway guard: the agent called Bash with the same input 3 times in a row" in shown
    )
    looping = [r for r in fake_upstream.requests if r.path == "/v1/messages"]
    assert len(looping) == 3  # the fourth call carried the third repeat and was refused


async def test_claude_code_in_team_mode_has_no_call_refused(
    any_claude_cli, start_nexus, fake_upstream, tmp_path
):
    """Its keyless warm-up (``HEAD /`` in 2.1.197) is answered by Nexus, neither forwarded nor
    recorded as a refused call: a session in team mode leaves no 401 row behind."""
    fake_upstream.responder = ClaudeCodeResponder()
    server = await start_nexus()
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_team_host(tmp_path / "credentials", None, host)
    await asyncio.sleep(1.1)
    done = await asyncio.to_thread(
        run_claude, any_claude_cli.path, server.endpoints.proxy_url, "say hi", home=tmp_path,
        env={"ANTHROPIC_API_KEY": KEYS["alice"]}, timeout=90,
    )  # fmt: skip
    assert json.loads(done.stdout)["is_error"] is False, done.stdout + done.stderr
    await server.flush()
    rows = (await server.store.list_requests(RequestFilter(), None, 100)).items
    assert rows and all(r.status == 200 and r.client_key_id == f"alice@{host}" for r in rows)
    assert {r.method for r in fake_upstream.requests} == {"POST"}  # the probe never left Nexus
