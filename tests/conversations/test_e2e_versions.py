"""The real Claude Code CLI, pinned and ``@latest``, → nexus serve → fake upstream: every scenario
of issue 15 (fork sub-agent, parallel and nested sub-agents, /btw, /compact and auto-compact, Esc-Esc
rewind, --resume … --fork-session, -c) links with no misplaced request.

"Misplaced" is judged by an oracle that reads only what the CLI sent and the scenario's script,
never the linker: a call carrying an agent id belongs to a ``task-N`` branch shared by that agent
alone; a /btw call or a haiku helper is a background call in the conversation; the main agent's
calls are on ``main``, or on the branch the scenario's script says (``branch-2`` after the rewind,
``fork-1`` for the forked session, ``compact-N`` after the N-th compaction). Each scenario runs
once per CLI version (``any_claude_cli``); the interactive ones drive the TUI under tmux, every wait
bounded. Each misplaced request is named in the failure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from nexus.records import RequestFilter, RequestSummary, is_background_class
from tests.fakes.claude_code import SCENARIOS, CliUnderTest, run_scenario
from tests.fakes.upstream import COMPACT_MARKER, SIDE_QUESTION_MARKER, ClaudeCodeResponder

# The first test of a leg may install that CLI with npm (about a minute): more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

# Scenarios that need a feature the pinned CLI lacks still run there: the tree must stay right.
E2E_SCENARIOS = (
    "continue",
    "fork_subagent",
    "parallel_subagents",
    "nested_subagents",
    "fork_session",
    "auto_compact",
    "interactive_btw",
    "interactive_rewind",
    "interactive_compact",
    "interactive_subagents",
)


@pytest.mark.parametrize("name", E2E_SCENARIOS)
async def test_scenario_through_nexus_has_no_misplaced_request(
    any_claude_cli: CliUnderTest, nexus: Any, fake_upstream: Any, tmp_path: Path, name: str
) -> None:
    fake_upstream.responder = ClaudeCodeResponder()
    scenario = SCENARIOS[name]
    await asyncio.to_thread(
        run_scenario,
        any_claude_cli.path,
        nexus.endpoints.proxy_url,
        scenario,
        home=tmp_path / "home",
        request_count=lambda: len(fake_upstream.requests),
    )
    await asyncio.sleep(1.0)  # background sub-agents may still be finishing
    await nexus.flush()
    page = await nexus.store.list_requests(RequestFilter(), None, 500)
    rows = sorted(
        (r for r in page.items if r.path == "/v1/messages" and r.method == "POST"),
        key=lambda r: (r.started_at_ms, r.id),
    )
    assert rows, "the CLI made no Messages call through Nexus"
    bodies = {r.id: (await nexus.store.get_request(r.id)).request_body for r in rows}
    missing = not_exercised(name, rows, bodies, is_pinned=any_claude_cli.leg == "pinned")
    assert missing == [], f"the scenario did not do what it tests: {missing}"
    misplaced = misplaced_requests(name, rows, bodies)
    print(f"\nmisplaced[{name} × {any_claude_cli.version}] = {len(misplaced)} of {len(rows)}")
    assert misplaced == [], "\n".join(misplaced)


def not_exercised(
    scenario: str, rows: list[RequestSummary], bodies: dict[str, bytes], *, is_pinned: bool
) -> list[str]:
    """What the scenario was meant to make the CLI do and it did not (a vacuous pass otherwise)."""
    everything = b"\n".join(bodies[r.id] for r in rows)
    agents = {r.agent_id for r in rows if r.agent_id}
    wanted = {
        "fork_subagent": is_pinned or b"<fork-boilerplate>" in everything,  # new in 2.1.332
        "parallel_subagents": len(agents) >= 2,
        "nested_subagents": len(agents) >= 2,
        "fork_session": len({r.session_id for r in rows}) == 2,
        "auto_compact": COMPACT_MARKER.encode() in everything.lower(),
        "interactive_compact": COMPACT_MARKER.encode() in everything.lower(),
        "interactive_btw": SIDE_QUESTION_MARKER.encode() in everything,
        "interactive_rewind": any(_typed(r, "please run echo rewound") for r in rows),
        "interactive_subagents": len(agents) >= 4,
    }
    return [] if wanted.get(scenario, True) else [scenario]


def misplaced_requests(
    scenario: str, rows: list[RequestSummary], bodies: dict[str, bytes]
) -> list[str]:
    """One line per request whose place differs from what the scenario's script says."""
    out: list[str] = []
    expect_main = _main_branches(scenario, rows, bodies)
    conversation = next(
        (r.conversation_id for r in rows if not _is_helper(bodies[r.id])), rows[0].conversation_id
    )
    agent_branches: dict[str, set[str | None]] = {}
    sessions = [r.session_id for r in rows]
    for row in rows:
        body = bodies[row.id]
        cls = str(row.traffic_class)
        where = f"{row.id[-8:]} {cls} {row.branch} «{row.user_preview[:50]}»"
        if _is_helper(body):
            if not is_background_class(cls) or row.branch is not None:
                out.append(f"helper not in the background: {where}")
            elif row.conversation_id is None or row.conversation_id != conversation:
                out.append(f"helper outside its session's conversation: {where}")
            continue
        if row.conversation_id != conversation:
            out.append(f"another conversation: {where}")
            continue
        if row.agent_id:
            agent_branches.setdefault(row.agent_id, set()).add(row.branch)
            if cls != "subagent" or not (row.branch or "").startswith("task-"):
                out.append(f"sub-agent call not on a task branch: {where}")
            continue
        wanted = expect_main[row.id]
        if row.branch != wanted:
            out.append(f"expected {wanted}: {where}")
        if cls not in ("turn", "compaction"):
            out.append(f"main-agent call classed {cls}: {where}")
    branches_of = [b for bs in agent_branches.values() for b in bs]
    for agent, branches in agent_branches.items():
        if len(branches) != 1 or branches_of.count(next(iter(branches))) != 1:
            out.append(f"agent {agent} spread over {sorted(map(str, branches))}")
    if scenario == "fork_session" and len(set(sessions)) != 2:
        out.append(f"expected two sessions, saw {len(set(sessions))}")
    return out


def _main_branches(
    scenario: str, rows: list[RequestSummary], bodies: dict[str, bytes]
) -> dict[str, str]:
    """The branch each main-agent call belongs on, from the script: ``main`` until the rewind
    (``branch-2`` from the first call typed after it), the forked session's calls on ``fork-1``,
    ``compact-N`` after the N-th summarising call (which itself stays where it was)."""
    first_session = rows[0].session_id
    compactions = 0
    rewound = False
    out: dict[str, str] = {}
    for row in rows:
        body = bodies[row.id]
        is_compaction = COMPACT_MARKER.encode() in body.lower()
        branch = f"compact-{compactions}" if compactions else "main"
        if scenario == "interactive_rewind" and _typed(row, "please run echo rewound"):
            rewound = True
        if rewound:
            branch = "branch-2"
        if scenario == "fork_session" and row.session_id != first_session:
            branch = "fork-1"
        out[row.id] = branch
        if is_compaction and not row.agent_id:
            compactions += 1
    return out


def _is_helper(body: bytes) -> bool:
    """A /btw side question or a structured-output helper (the title call): background calls."""
    return SIDE_QUESTION_MARKER.encode() in body or b'"json_schema"' in body


def _typed(row: RequestSummary, text: str) -> bool:
    return row.user_preview == text
