"""Responders for the newer agent shapes Claude Code makes: fork sub-agents, parallel and nested
sub-agents, /btw side questions. Kept apart from ``ClaudeCodeResponder`` so the scenarios read in one
place; it asks ``agent_scenario_reply`` first.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.upstream.bodies import (
    first_user_text,
    last_user_blocks_text,
    last_user_text,
    tool_results,
)
from tests.fakes.upstream.wire import Reply, SeenRequest, ToolUse

FORK_DIRECTIVE = "Run the shell command `echo fork-ok` with Bash and report its output."
PARALLEL_PROMPTS = (
    "Run the shell command `echo parallel-one` with Bash and report its output.",
    "Run the shell command `echo parallel-two` with Bash and report its output.",
)
NESTED_PROMPT = (
    "Spawn a sub-agent of your own (general-purpose) that runs `echo nested-ok`, then report."
)
SIDE_QUESTION_MARKER = "This is a side question from the user"
_FORK_BOILERPLATE = "<fork-boilerplate>"
_ECHO_IN_PROMPT = re.compile(r"`echo ([\w.-]+)`")


def agent_scenario_reply(request: SeenRequest, body: dict[str, Any]) -> Reply | None:
    """The reply for the agent scenarios, or None to let the general rules answer.

    - a /btw side question (the CLI's side-question reminder): a plain answer, no tools
    - "fork a sub-agent": an ``Agent`` tool_use with ``subagent_type: "fork"``; the fork (its last
      user message carries ``<fork-boilerplate>`` and "Your directive: …") runs the directive's echo
    - "spawn two sub-agents": two ``Agent`` tool_uses in one response (parallel sub-agents)
    - "spawn a nested sub-agent": a sub-agent whose prompt asks it to spawn one of its own
    """
    last = last_user_blocks_text(body)
    if SIDE_QUESTION_MARKER in last:
        question = last.rsplit("</system-reminder>", 1)[-1].strip()
        return Reply(text=f"Side answer: {question[:200]}")
    is_sub_agent = request.header("x-claude-code-agent-id") is not None
    if is_sub_agent and _FORK_BOILERPLATE in last:  # beside the tool_result "Fork started…"
        return _run_echo_from(last, "fork-ok")
    if tool_results(body):
        return None
    prompt = last_user_text(body).lower()
    if is_sub_agent:
        first = first_user_text(body)
        # Only on its first call: later ones (a notification that the inner agent finished) get
        # the general answer, or the outer agent would spawn forever.
        if NESTED_PROMPT in first and not any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in body.get("messages") or ()
        ):
            inner = {
                "description": "Nested echo",
                "prompt": "Run the shell command `echo nested-ok` with Bash and report its output.",
                "subagent_type": "general-purpose",
            }
            return Reply(text="Spawning my own sub-agent.", tool_uses=(ToolUse("Agent", inner),))
        if _ECHO_IN_PROMPT.search(first):
            return _run_echo_from(first, "sub-agent-ok")
        return None
    if "fork a sub-agent" in prompt:
        fork = {
            "description": "Fork to run echo",
            "prompt": FORK_DIRECTIVE,
            "subagent_type": "fork",
        }
        return Reply(text="Forking myself.", tool_uses=(ToolUse("Agent", fork),))
    if "spawn two sub-agents" in prompt:
        calls = tuple(
            ToolUse(
                "Agent",
                {"description": f"Parallel echo {i}", "prompt": text,
                 "subagent_type": "general-purpose"},
            )
            for i, text in enumerate(PARALLEL_PROMPTS, start=1)
        )  # fmt: skip
        return Reply(text="Two sub-agents at once.", tool_uses=calls)
    if "spawn a nested sub-agent" in prompt:
        outer = {"description": "Outer agent", "prompt": NESTED_PROMPT,
                 "subagent_type": "general-purpose"}  # fmt: skip
        return Reply(text="A sub-agent that spawns another.", tool_uses=(ToolUse("Agent", outer),))
    return None


def _run_echo_from(text: str, default: str) -> Reply:
    found = _ECHO_IN_PROMPT.search(text)
    command = f"echo {found.group(1) if found else default}"
    return Reply(
        text="Running the command.",
        tool_uses=(ToolUse("Bash", {"command": command, "description": "Run echo"}),),
    )
