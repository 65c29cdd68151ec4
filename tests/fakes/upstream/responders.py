"""Responders: what the fake answers when no reply is scripted. ``echo_reply`` (the default) says
back the last user text; ``ClaudeCodeResponder`` answers the real Claude Code CLI well enough for it
to run tools, sub-agents and compactions.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from tests.fakes.upstream.agents import agent_scenario_reply
from tests.fakes.upstream.bodies import last_user_text, tool_results
from tests.fakes.upstream.wire import Reply, SeenRequest, ToolUse


def echo_reply(request: SeenRequest) -> Reply:
    """The default: a deterministic "You said: <last user text>"."""
    return Reply(text="You said: " + last_user_text(request.json()))


SUB_AGENT_PROMPT = "Run the shell command `echo sub-agent-ok` with Bash and report its output."
COMPACT_MARKER = "create a detailed summary of the conversation so far"
_RUN_ECHO = re.compile(r"run echo\s+([\w.-]+)", re.IGNORECASE)


class ClaudeCodeResponder:
    """Answers the real Claude Code CLI so that it does useful work against the fake.

    - title/topic helper calls (``output_config.format`` with a json_schema): valid JSON
    - sub-agent calls (``x-claude-code-agent-id``): a Bash ``echo sub-agent-ok``, then a final text
    - a last user message holding tool_results: a final text quoting what they said
    - "spawn a sub-agent": an ``Agent`` tool_use (general-purpose)
    - "run echo WORD": a Bash tool_use ``echo WORD``
    - a compaction request (``/compact``): an <analysis> and a <summary> of the user's messages
    - anything else: an echo, with a thinking block on main-agent turns
    """

    def __call__(self, request: SeenRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            return echo_reply(request)
        schema = _json_schema(body)
        if schema is not None:
            return Reply(text=orjson.dumps(_fill_schema(schema)).decode())
        prompt = last_user_text(body)
        if COMPACT_MARKER in prompt:
            return Reply(text=_summary(body))
        agents = agent_scenario_reply(request, body)
        if agents is not None:
            return agents
        results = tool_results(body)
        is_sub_agent = request.header("x-claude-code-agent-id") is not None
        if results:
            seen = " | ".join(r.strip() for r in results)[:500]
            who = "Sub-agent finished" if is_sub_agent else "Done"
            return Reply(text=f"{who}. The tool said: {seen}")
        if is_sub_agent:
            return Reply(
                text="Running the command.",
                tool_uses=(
                    ToolUse(
                        "Bash",
                        {"command": "echo sub-agent-ok", "description": "Print sub-agent-ok"},
                    ),
                ),
            )
        thinking = f"The user asked: {prompt[:200]}"
        if "spawn a sub-agent" in prompt.lower():
            agent_input = {
                "description": "Run echo in a sub-agent",
                "prompt": SUB_AGENT_PROMPT,
                "subagent_type": "general-purpose",
            }
            return Reply(
                text="I will ask a sub-agent.",
                thinking=thinking,
                tool_uses=(ToolUse("Agent", agent_input),),
            )
        match = _RUN_ECHO.search(prompt)
        if match:
            command = f"echo {match.group(1)}"
            return Reply(
                text="Running it.",
                thinking=thinking,
                tool_uses=(ToolUse("Bash", {"command": command, "description": "Run echo"}),),
            )
        return Reply(text="You said: " + prompt, thinking=thinking)


def _summary(body: dict[str, Any]) -> str:
    said = []
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "user":
            text = last_user_text({"messages": [message]}).split("\n")[0].strip()
            if text and not text.startswith("<") and COMPACT_MARKER not in text.lower():
                if not text.startswith("CRITICAL: Respond with TEXT ONLY"):
                    said.append(f"    - {text}")
    lines = "\n".join(said)
    return (
        "<analysis>\nThe user sent a few short requests.\n</analysis>\n\n"
        f"<summary>\n1. Primary Request and Intent:\n   Short requests.\n\n"
        f"6. All user messages:\n{lines}\n</summary>"
    )


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _fill_schema(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _fill_schema(sub) for name, sub in props.items() if isinstance(sub, dict)}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    return "Fake session title"


class LoopingResponder:
    """An agent stuck in a loop: every call is answered with the same tool call (same tool, same
    input), whatever the tool said last time. For the runaway guard (docs/limits.md)."""

    def __init__(self, tool: str = "Bash", tool_input: dict[str, Any] | None = None) -> None:
        self.tool = tool
        self.tool_input = tool_input or {"command": "make test", "description": "Run the tests"}

    def __call__(self, request: SeenRequest) -> Reply:
        return Reply(text="The tests still fail; running them again.",
                     tool_uses=(ToolUse(self.tool, self.tool_input),))  # fmt: skip
