"""Prompt-cache breaks the real Claude Code CLI produces between two turns (``claude -p`` then
``claude -c -p``) through Nexus to the caching fake upstream: the ledger names the cause and the
excess cost to the micro-dollar, on SQLite and Postgres. Expectations: cache_scenarios.py. Each
case runs on the pinned CLI and on @latest (SQLite only), which keeps the cache in two of them.

The pinned CLI reads ``CLAUDE.md`` into its first user message (a ``<system-reminder>``), not into
the system prompt, so editing it between turns edits the history. A large CLAUDE.md makes that
message big enough that losing it is a break and not noise under the ledger's tolerance."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from tests.e2e.cache_scenarios import (
    OPUS,
    SONNET,
    Clock,
    Expected,
    assert_ledger_says,
    caching_fake,
    expected_break,
    filler,
    ledger,
)
from tests.fakes.claude_code import CliUnderTest, run_claude
from tests.fakes.upstream import ClaudeCodeResponder

pytestmark = pytest.mark.e2e
pytest.importorskip("nexus.cache.ledger", reason="the cache ledger (issue 19) has not landed")

NONE = Expected(None)


class Turns:
    """CLI runs in one working directory, each continuing the last (a ``Change`` in between)."""

    def __init__(self, cli: Path, server: Any, home: Path) -> None:
        self.cli, self.server, self.home = cli, server, home
        self.workdir = home / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "CLAUDE.md").write_text(claude_md("Answer in English."))

    async def run(
        self, prompt: str, *args: str, env: dict[str, str] | None = None, again: bool = False
    ) -> None:
        extra = ["-c"] if again else []
        if "--model" not in args:
            extra += ["--model", OPUS]  # named, or the first run picks the [1m] variant
        done = await asyncio.to_thread(
            run_claude,
            self.cli,
            self.server.endpoints.proxy_url,
            prompt,
            home=self.home,
            extra_args=[*extra, *args],
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["is_error"] is False, done.stdout


def claude_md(rule: str) -> str:
    return f"# Project rules\n\n{rule}\n\n## Background\n\n{filler('claude-md', 8000)}\n"


Change = Callable[[Turns, Clock], dict[str, Any]]  # returns run() arguments for the second turn


def nothing(turns: Turns, clock: Clock) -> dict[str, Any]:
    return {}


def model(turns: Turns, clock: Clock) -> dict[str, Any]:
    return {"args": ("--model", SONNET)}


def idle_past_ttl(turns: Turns, clock: Clock) -> dict[str, Any]:
    clock.advance(301)
    return {}


def mcp_server_added(turns: Turns, clock: Clock) -> dict[str, Any]:
    config = {
        "mcpServers": {"nexus": {"type": "http", "url": turns.server.endpoints.proxy_url + "/mcp"}}
    }
    return {"args": ("--mcp-config", json.dumps(config))}


def claude_md_edited(turns: Turns, clock: Clock) -> dict[str, Any]:
    (turns.workdir / "CLAUDE.md").write_text(claude_md("Answer in French."))
    return {}


def thinking_off(turns: Turns, clock: Clock) -> dict[str, Any]:
    return {"env": {"MAX_THINKING_TOKENS": "0"}}


def server_missed(turns: Turns, clock: Clock) -> dict[str, Any]:
    assert clock.cache is not None
    clock.cache.miss_next()
    return {}


@dataclass(frozen=True, slots=True)
class Case:
    change: Change
    cause: str | None  # what the pinned CLI's second turn does to the cache
    model: str = OPUS  # of the second turn
    mentions: tuple[str, ...] = ()  # words the break's detail holds
    latest: str | None | object = "same"  # the cause on @latest, when it differs
    first: tuple[str, ...] = ()  # arguments of the first turn


KEPT = None  # @latest keeps the cache where the pinned CLI broke it
CASES: dict[str, Case] = {
    "no_break": Case(nothing, None),
    "model_changed": Case(model, "model_changed", SONNET, (OPUS, SONNET)),
    "ttl_expired": Case(idle_past_ttl, "ttl_expired"),
    "tool_added": Case(
        nothing, "tools_changed", mentions=("Write",), first=("--disallowedTools", "Write")
    ),
    # 2.1.332 defers MCP tools behind ToolSearch (a message names them): the tool list holds.
    "tools_changed_by_an_mcp_server": Case(
        mcp_server_added, "tools_changed", mentions=("mcp__nexus__",), latest=KEPT
    ),
    # 2.1.332 sends the edited CLAUDE.md as a new message after the history: the prefix holds.
    "claude_md_edited": Case(
        claude_md_edited, "history_edited", mentions=("system-reminder",), latest=KEPT
    ),
    "thinking_turned_off": Case(thinking_off, "settings_changed", mentions=("thinking",)),
    "none_visible": Case(server_missed, "none_visible"),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_cli_breaks_are_named_and_priced(
    name: str,
    serve_db_url: str,
    any_claude_cli: CliUnderTest,
    start_nexus: Any,
    fake_upstream: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    case = CASES[name]
    cause = case.cause
    if any_claude_cli.leg == "latest":
        if not serve_db_url.startswith("sqlite"):
            pytest.skip("@latest runs on SQLite only: the pinned leg covers Postgres")
        if case.latest != "same":
            cause = cast(str | None, case.latest)
    fake_upstream.responder = ClaudeCodeResponder()
    cache = caching_fake(fake_upstream)
    clock = Clock(monkeypatch, cache)
    server = await start_nexus(database_url=serve_db_url)
    turns = Turns(any_claude_cli.path, server, tmp_path / "home")
    await turns.run("first question", *case.first)
    how = case.change(turns, clock)
    await turns.run("second question", *how.get("args", ()), env=how.get("env"), again=True)
    assert len(cache.answers) == 2, "one Messages call per print-mode turn"
    p, r = cache.answers
    second = NONE if cause is None else expected_break(cause, case.model, p, r, *case.mentions)
    await server.flush()
    rows = await ledger(server.endpoints.api_url, 2)
    assert_ledger_says(rows, [NONE, second], request.node.user_properties)
