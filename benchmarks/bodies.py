"""Claude Code-like request bodies for the proxy benchmark (~190 KB each), varied cheaply.

A body has the shape CLAUDE_CODE.md describes: ``model``, ``max_tokens: 64000``, adaptive
``thinking``, ``context_management``, ``output_config``, three ``system`` blocks (billing line,
identity and long prompt, the last two with ``cache_control``), 20 tools with JSON schemas of the
size and nesting Claude Code's own have, ``metadata.user_id`` as a JSON *string*, and 50 messages:
a first user message holding a ``<system-reminder>`` and the prompt, a ``role: system`` entry, then
assistant turns with text, thinking (with a signature) and ``tool_use`` blocks answered by user
turns with ``tool_result`` blocks (file contents, command output), ending on a user turn with a
tool result plus a typed follow-up.

Each session (one per load-generator worker) shares its tools, system prompt and the first 46
messages, as one Claude Code session does; every request then gets fresh last four messages (new
tool ids, a new tool result, a numbered prompt) and the session's ids, so no two bodies are equal
and the content-addressed store sees the realistic mix of shared history and new tail.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import orjson

MODEL = "claude-opus-4-8"
CLI_VERSION = "2.1.197"
BETAS = (
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,effort-2025-11-24"
)
_WORDS = (
    "the file function returns value when config request response stream error handler test "
    "module import class self async await yield record store proxy upstream header body token "
    "session agent message tool result input output cache spool writer batch index query path "
    "should must never always first last next each every only before after during because "
    "parse build check read write open close start stop run wait send receive update create"
).split()
_TOOL_NAMES = (
    "Bash", "Read", "Write", "Edit", "MultiEdit", "Glob", "Grep", "LS", "WebFetch", "WebSearch",
    "TodoWrite", "NotebookEdit", "Agent", "BashOutput", "KillShell", "ExitPlanMode",
    "SlashCommand", "Skill", "AskUserQuestion", "ListMcpResources",
)  # fmt: skip


_TAILS = 8  # prepared tails per session
_MARK = b"@@REQN@@"  # replaced by the request number (8 digits)


def _words(rnd: random.Random, n: int) -> str:
    return " ".join(rnd.choice(_WORDS) for _ in range(n))


def _code(rnd: random.Random, lines: int) -> str:
    out = []
    for i in range(lines):
        indent = "    " * rnd.randrange(0, 3)
        name = rnd.choice(_WORDS) + "_" + rnd.choice(_WORDS)
        out.append(f"{i + 1:>6}\t{indent}{name} = {rnd.choice(_WORDS)}({_words(rnd, 3)!r})")
    return "\n".join(out)


def _schema(rnd: random.Random) -> dict[str, object]:
    props: dict[str, object] = {}
    for _ in range(rnd.randrange(2, 7)):
        kind = rnd.choice(("string", "number", "boolean", "array", "object"))
        prop: dict[str, object] = {"type": kind, "description": _words(rnd, rnd.randrange(8, 30))}
        if kind == "array":
            prop["items"] = {
                "type": "object",
                "properties": {
                    "old_string": {"type": "string", "description": _words(rnd, 10)},
                    "new_string": {"type": "string", "description": _words(rnd, 10)},
                },
                "required": ["old_string", "new_string"],
                "additionalProperties": False,
            }
        elif kind == "object":
            prop["additionalProperties"] = {"type": "string"}
        elif kind == "string" and rnd.random() < 0.3:
            prop["enum"] = [rnd.choice(_WORDS) for _ in range(3)]
        props[rnd.choice(_WORDS) + "_" + rnd.choice(_WORDS)] = prop
    return {
        "type": "object",
        "properties": props,
        "required": list(props)[:2],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


def _tools(rnd: random.Random) -> list[dict[str, object]]:
    return [
        {
            "name": name,
            # Claude Code's tool descriptions are long usage manuals (Bash's runs to pages).
            "description": _words(rnd, rnd.randrange(150, 400)),
            "input_schema": _schema(rnd),
        }
        for name in _TOOL_NAMES
    ]


def _system(rnd: random.Random) -> list[dict[str, object]]:
    cache = {"type": "ephemeral"}
    return [
        {
            "type": "text",
            "text": f"x-anthropic-billing-header: cc_version={CLI_VERSION}.a1b; cc_entrypoint=cli;",
        },
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": cache,
        },
        {"type": "text", "text": _words(rnd, 3500), "cache_control": cache},
    ]


def _tool_round(rnd: random.Random, turn: int, tag: str) -> list[dict[str, object]]:
    """One assistant turn calling a tool, and the user turn answering it."""
    tool_id = f"toolu_{tag}{turn:04d}{rnd.randrange(16**8):08x}"
    name = rnd.choice(("Read", "Bash", "Grep", "Edit"))
    assistant: list[dict[str, object]] = []
    if rnd.random() < 0.4:
        thinking = _words(rnd, rnd.randrange(30, 80))
        assistant.append(
            {"type": "thinking", "thinking": thinking, "signature": "Eq" + "A" * 340 + tag}
        )
    assistant.append({"type": "text", "text": _words(rnd, rnd.randrange(8, 40))})
    assistant.append(
        {
            "type": "tool_use",
            "id": tool_id,
            "name": name,
            "input": {"file_path": f"/work/project/src/{rnd.choice(_WORDS)}.py", "limit": 400},
        }
    )
    result = _code(rnd, rnd.randrange(40, 104))
    return [
        {"role": "assistant", "content": assistant},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}],
        },
    ]


@dataclass
class Session:
    """One simulated Claude Code session; ``body(n)`` is its n-th request (bytes, ~200 KB)."""

    index: int
    stream: bool

    def __post_init__(self) -> None:
        self._templates: dict[int, bytes] = {}
        rnd = random.Random(1000 + self.index)
        self.session_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        shared = random.Random(7)  # tools and system: the same in every session, as in real use
        self.tools = _tools(shared)
        self.system = _system(shared)
        first = {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\n" + _words(rnd, 300)
                 + "\n</system-reminder>"},
                {"type": "text", "text": "Please " + _words(rnd, 40)},
            ],
        }  # fmt: skip
        agents = {"role": "system", "content": "Available agent types: " + _words(rnd, 60)}
        history: list[dict[str, object]] = [first, agents]
        turn = 0
        while len(history) < 46:
            history.extend(_tool_round(rnd, turn, f"s{self.index}"))
            turn += 1
        self.history = history[:46]
        self.metadata = {
            "user_id": orjson.dumps(
                {
                    "device_id": f"{rnd.getrandbits(256):064x}",
                    "account_uuid": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                    "session_id": self.session_id,
                }
            ).decode()
        }

    def headers(self, api_key: str = "sk-ant-api03-benchmark-key-000000000000") -> dict[str, str]:
        return {
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": BETAS,
            "anthropic-dangerous-direct-browser-access": "true",
            "x-api-key": api_key,
            "x-app": "cli",
            "user-agent": f"claude-cli/{CLI_VERSION} (external, cli)",
            "x-claude-code-session-id": self.session_id,
            "x-stainless-lang": "js",
            "x-stainless-retry-count": "0",
        }

    def body(self, n: int) -> bytes:
        """Request n: one of a few prepared tails with the number written into its tool ids and
        prompt (a bytes replace: building a body from scratch would cost the load generator CPU
        that the proxy under test should get)."""
        template = self._templates.get(n % _TAILS)
        if template is None:
            template = self._templates[n % _TAILS] = self._template(n % _TAILS)
        return template.replace(_MARK, b"%08d" % n)

    def _template(self, variant: int) -> bytes:
        rnd = random.Random(self.index * 1_000_003 + variant)
        tag = _MARK.decode()
        tail = _tool_round(rnd, 100, "r" + tag) + _tool_round(rnd, 200, "q" + tag)
        last = tail[-1]["content"]
        assert isinstance(last, list)
        # A typed follow-up after the tool result: the fake echoes it, so replies have some text.
        last.append({"type": "text", "text": f"Request {tag}: " + _words(rnd, 70)})
        body = {
            "model": MODEL,
            "max_tokens": 64000,
            "thinking": {"type": "adaptive"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "high"},
            "metadata": self.metadata,
            "system": self.system,
            "tools": self.tools,
            "messages": self.history + tail,
            "stream": self.stream,
        }
        return orjson.dumps(body)


if __name__ == "__main__":
    session = Session(0, stream=True)
    sample = session.body(1)
    parsed = orjson.loads(sample)
    print(
        f"{len(sample)} bytes, {len(parsed['messages'])} messages, {len(parsed['tools'])} tools,"
        f" tools {len(orjson.dumps(parsed['tools']))} B,"
        f" system {len(orjson.dumps(parsed['system']))} B"
    )
