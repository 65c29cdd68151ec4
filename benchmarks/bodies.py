"""Claude Code-like request bodies for the proxy benchmark (~200 KB, ~50 messages on average).

A body has the shape CLAUDE_CODE.md describes: ``model``, ``max_tokens: 64000``, adaptive
``thinking``, ``context_management``, ``output_config``, three ``system`` blocks (billing line,
identity and long prompt, the last two with ``cache_control``), 20 tools with JSON schemas of the
size and nesting Claude Code's own have, ``metadata.user_id`` as a JSON *string* carrying the
session id (also in ``x-claude-code-session-id``), and the history: a first user message holding a
``<system-reminder>`` and the prompt, a ``role: system`` entry, then assistant turns with text,
thinking (with a signature) and ``tool_use`` blocks answered by user turns with ``tool_result``
blocks (file contents, command output) and a typed line.

Traffic is shaped like real sessions: each load-generator worker runs sessions of ``TURNS``
requests; a session starts with 30 messages (~155 KB) and every request resends the whole history
plus the new tool round (~5 KB more each), so consecutive bodies share their prefix, as Claude
Code's do, and the store and linker see the mix of shared history and new tail they will see in
use. No two bodies are equal: sessions differ in ids and message text.
"""

from __future__ import annotations

import random
import uuid

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


TURNS = 20  # requests per simulated session; each adds two messages to the history
BASE_MESSAGES = 30  # history at a session's first request
_BASES = 4  # prepared histories per worker, used in turn by its sessions
_MARK = b"@@SESS@@"  # replaced by the session number (8 digits)
_API_KEY = "sk-ant-api03-benchmark-key-000000000000"


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


def _session_id(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


class Session:
    """One load-generator worker: a run of Claude Code sessions, ``TURNS`` requests each.

    ``request(n)`` is the worker's n-th call as (headers, body bytes). Bodies are spliced from
    messages serialised once (building ~200 KB of JSON per call would spend the load generator's
    CPU, which the proxy under test should get); a marker in the messages is replaced by the
    session number, so sessions share only tools and system prompt, as real ones do.
    """

    def __init__(self, index: int, stream: bool) -> None:
        self.index, self.stream = index, stream
        shared = random.Random(7)  # tools and system: the same in every session, as in real use
        self._tools = orjson.dumps(_tools(shared))
        self._system = orjson.dumps(_system(shared))
        rnd = random.Random(1000 + index)
        self._device = f"{rnd.getrandbits(256):064x}"
        self._account = _session_id(rnd)
        self._bases = [self._base(variant) for variant in range(_BASES)]
        self._rounds = [self._turns(variant) for variant in range(_BASES)]
        self._current: tuple[int, str, bytes, bytes] | None = None  # session, id, head, tail

    def _base(self, variant: int) -> list[bytes]:
        rnd = random.Random(self.index * 7919 + variant)
        tag = _MARK.decode()
        first = {
            "role": "user",
            "content": [
                {"type": "text", "text": f"<system-reminder>\nsession {tag} "
                 + _words(rnd, 300) + "\n</system-reminder>"},
                {"type": "text", "text": "Please " + _words(rnd, 40)},
            ],
        }  # fmt: skip
        agents = {"role": "system", "content": "Available agent types: " + _words(rnd, 60)}
        history: list[dict[str, object]] = [first, agents]
        turn = 0
        while len(history) < BASE_MESSAGES:
            history.extend(_tool_round(rnd, turn, "s" + tag))
            turn += 1
        return [orjson.dumps(m) for m in history[:BASE_MESSAGES]]

    def _turns(self, variant: int) -> list[bytes]:
        """Each turn adds the model's tool call and the user's tool result plus a typed line (the
        fake echoes that line, so replies carry some text)."""
        rnd = random.Random(self.index * 104_729 + variant)
        tag = _MARK.decode()
        out = []
        for turn in range(TURNS):
            assistant, user = _tool_round(rnd, 100 + turn, "t" + tag)
            content = user["content"]
            assert isinstance(content, list)
            content.append({"type": "text", "text": f"Turn {turn}: " + _words(rnd, 60)})
            out.append(orjson.dumps(assistant) + b"," + orjson.dumps(user))
        return out

    def request(self, n: int, api_key: str = _API_KEY) -> tuple[dict[str, str], bytes]:
        number, turn = divmod(n, TURNS)
        session = self.index * 1_000_000 + number
        if self._current is None or self._current[0] != session:
            self._current = self._start(session)
        _, session_id, head, tail = self._current
        variant = number % _BASES
        messages = b",".join((*self._bases[variant], *self._rounds[variant][: turn + 1]))
        body = (head + messages + tail).replace(_MARK, b"%08d" % session)
        return self._headers(session_id, api_key), body

    def body(self, n: int) -> bytes:
        return self.request(n)[1]

    def _start(self, session: int) -> tuple[int, str, bytes, bytes]:
        session_id = _session_id(random.Random(session))
        metadata = {
            "user_id": orjson.dumps(
                {"device_id": self._device, "account_uuid": self._account, "session_id": session_id}
            ).decode()
        }
        head = b"".join(
            (
                b'{"model":"' + MODEL.encode() + b'","max_tokens":64000,',
                b'"thinking":{"type":"adaptive"},',
                b'"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},',
                b'"output_config":{"effort":"high"},',
                b'"metadata":' + orjson.dumps(metadata) + b",",
                b'"system":' + self._system + b',"tools":' + self._tools + b',"messages":[',
            )
        )
        tail = b'],"stream":' + (b"true" if self.stream else b"false") + b"}"
        return session, session_id, head, tail

    def _headers(self, session_id: str, api_key: str) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": BETAS,
            "anthropic-dangerous-direct-browser-access": "true",
            "x-api-key": api_key,
            "x-app": "cli",
            "user-agent": f"claude-cli/{CLI_VERSION} (external, cli)",
            "x-claude-code-session-id": session_id,
            "x-stainless-lang": "js",
            "x-stainless-retry-count": "0",
        }


if __name__ == "__main__":
    session = Session(0, stream=True)
    sizes = [len(session.body(n)) for n in range(TURNS)]
    print(f"per session: {min(sizes)}..{max(sizes)} bytes, mean {sum(sizes) // len(sizes)}")
    sample = session.body(TURNS // 2)
    parsed = orjson.loads(sample)
    print(
        f"{len(sample)} bytes, {len(parsed['messages'])} messages, {len(parsed['tools'])} tools,"
        f" tools {len(orjson.dumps(parsed['tools']))} B,"
        f" system {len(orjson.dumps(parsed['system']))} B"
    )
