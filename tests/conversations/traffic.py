"""Synthetic Claude Code traffic in the shapes of CLI 2.1.197 (tests/data/claude_code/): a main
agent whose first user message is ``[<system-reminder>, prompt]`` followed by an injected ``role:
"system"`` message, ``cache_control`` on the newest block only, thinking blocks with signatures
resent in history, ``Agent`` tool_uses answered by sub-agents with their own system prompt and agent
header, haiku helpers, quota probes, count_tokens, and /compact with old and new continuation text.

Every request becomes a ``RequestRecord`` through the recorder's own ``derive`` (so session ids come
from the header or ``metadata.user_id`` the same way as in production). Records are labelled, so a
scenario can state the tree it expects by label.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from nexus.recorder.derive import derive
from nexus.records import Exchange, RequestRecord, new_id

MAIN_MODEL = "claude-opus-4-8"
HAIKU = "claude-haiku-4-5-20251001"
REMINDER = (
    "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n"
    "# currentDate\nToday's date is 2026-11-25.\n</system-reminder>"
)
AGENT_TYPES = "Available agent types for the Agent tool:\n- general-purpose: anything (Tools: *)"
SKILLS = "The following skills are available for use with the Skill tool:\n- review: reviews code"
MAIN_SYSTEM = [
    {
        "type": "text",
        "text": "x-anthropic-billing-header: cc_version=2.1.197.ebb; cc_entrypoint=cli;",
    },
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "\nYou are an interactive agent that helps users with software engineering tasks.",
        "cache_control": {"type": "ephemeral"},
    },
]
SUB_SYSTEM = [
    {
        "type": "text",
        "text": "x-anthropic-billing-header: cc_version=2.1.197.fbe; "
        "cc_entrypoint=cli; cc_is_subagent=true;",
    },
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "You are an agent for Claude Code, Anthropic's official CLI for Claude. "
        "Given the user's message, you should use the tools available to complete the task.",
        "cache_control": {"type": "ephemeral"},
    },
]
TOOLS = [
    {"name": name, "description": f"the {name} tool", "input_schema": {"type": "object"}}
    for name in ("Agent", "Bash", "Read", "Edit")
]
COMPACT_PROMPT = (
    "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.\n\nYour task is to create a detailed "
    "summary of the conversation so far, paying close attention to the user's explicit requests "
    "and your previous actions."
)
OLD_MARKER = (
    "This session is being continued from a previous conversation that ran out of context. "
    "The conversation is summarized below:\n"
)
NEW_MARKER = (
    "This session is being continued from a previous conversation that ran out of context. "
    "The summary below covers the earlier portion of the conversation.\n"
)


@dataclass(frozen=True, slots=True)
class Scope:
    host: str = "localhost:3000"
    account_id: str | None = None
    client_key_id: str | None = None


@dataclass
class Traffic:
    """Every record made so far, in the order the requests ended (the order a writer sees them)."""

    clock_ms: int = 1_760_000_000_000
    session_salt: int = 0  # distinct salts give distinct session ids (benchmarks make many)
    records: list[RequestRecord] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # label → request id
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def tick(self, ms: int = 1000) -> int:
        self.clock_ms += ms
        return self.clock_ms

    def serial(self) -> int:
        return next(self._counter)

    def id_of(self, label: str | None) -> str | None:
        return None if label is None else self.labels[label]

    def label_of(self, request_id: str | None) -> str | None:
        if request_id is None:
            return None
        return next(label for label, rid in self.labels.items() if rid == request_id)

    def add(
        self,
        label: str,
        *,
        path: str,
        headers: list[tuple[str, str]],
        body: dict[str, Any],
        reply: dict[str, Any] | None,
        scope: Scope,
        started_at_ms: int | None = None,
        duration_ms: int = 800,
        status: int = 200,
    ) -> RequestRecord:
        started = started_at_ms if started_at_ms is not None else self.tick()
        request_id = new_id(started)
        response = (
            orjson.dumps(reply)
            if reply is not None
            else orjson.dumps(
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            )
        )
        exchange = Exchange(
            id=request_id,
            started_at_ms=started,
            ended_at_ms=started + duration_ms,
            first_byte_at_ms=started + 100,
            method="POST",
            path=path,
            query="beta=true",
            host=scope.host,
            request_headers=tuple(headers),
            request_body=orjson.dumps(body),
            status=status if reply is not None else 529,
            response_headers=(
                ("content-type", "application/json"),
                ("request-id", "req_" + request_id[:12]),
            ),
            response_body=response,
            account_id=scope.account_id,
            client_key_id=scope.client_key_id,
        )
        record = derive(exchange)
        assert label not in self.labels, label
        self.labels[label] = request_id
        self.records.append(record)
        return record

    def session(
        self,
        *,
        scope: Scope = Scope(),
        headers: bool = True,
        legacy: bool = False,
        anonymous: bool = False,
    ) -> Session:
        session_id = str(uuid.UUID(int=(self.session_salt << 64) + self.serial() + 1000))
        return Session(self, session_id, scope, headers and not anonymous, legacy, anonymous)


@dataclass
class Session:
    traffic: Traffic
    session_id: str
    scope: Scope
    send_headers: bool = True  # new CLIs send x-claude-code-session-id; old ones only metadata
    legacy_user_id: bool = False  # "user_<hash>_account__session_<uuid>"
    anonymous: bool = False  # a client that sends no session at all (an SDK script)

    def headers(self, agent_id: str | None = None) -> list[tuple[str, str]]:
        headers = [
            ("anthropic-version", "2023-06-01"),
            ("x-app", "cli"),
            ("user-agent", "claude-cli/2.1.197 (external, cli)"),
        ]
        if self.send_headers:
            headers.append(("X-Claude-Code-Session-Id", self.session_id))
            if agent_id:
                headers.append(("x-claude-code-agent-id", agent_id))
        return headers

    def metadata(self) -> dict[str, str]:
        if self.anonymous:
            return {}
        if self.legacy_user_id:
            return {"user_id": f"user_{'ab' * 32}_account__session_{self.session_id}"}
        user = {"device_id": "d" * 64, "account_uuid": "", "session_id": self.session_id}
        return {"user_id": orjson.dumps(user).decode()}

    def agent(self, prompt: str, *, inject_system: bool = True) -> Agent:
        """The main agent, whose first user message is ``prompt``."""
        return Agent(self, None, MAIN_SYSTEM, prompt, inject_system)

    def subagent(self, prompt: str, agent_id: str | None = None) -> Agent:
        agent_id = agent_id if agent_id is not None else f"a{self.traffic.serial():016x}"
        return Agent(self, agent_id, SUB_SYSTEM, prompt, True, thinking=False)

    def background(self, label: str, kind: str, **at: Any) -> RequestRecord:
        """A haiku helper, quota probe or count_tokens call of this session."""
        body: dict[str, Any] = {"model": HAIKU, "metadata": self.metadata(), "stream": True}
        path = "/v1/messages"
        if kind == "quota":
            body |= {"max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
        elif kind == "title":
            body |= {
                "max_tokens": 512,
                "tools": [],
                "system": [
                    {
                        "type": "text",
                        "text": "Generate a concise, sentence-case title "
                        "(3-7 words) that captures the main topic.",
                    }
                ],
                "messages": [{"role": "user", "content": "fix the login bug"}],
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                    }
                },
            }
        elif kind == "count_tokens":
            path = "/v1/messages/count_tokens"
            body = {
                "model": MAIN_MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "tools": TOOLS,
            }
        else:
            raise ValueError(kind)
        reply = _message([{"type": "text", "text": '{"title": "Fix login"}'}], HAIKU)
        return self.traffic.add(
            label, path=path, headers=self.headers(), body=body, reply=reply, scope=self.scope, **at
        )


class Agent:
    """One line of requests: the main agent or a sub-agent, with the history it resends."""

    def __init__(
        self,
        session: Session,
        agent_id: str | None,
        system: list[dict[str, Any]],
        prompt: str,
        inject_system: bool,
        thinking: bool = True,
    ) -> None:
        self.session = session
        self.agent_id = agent_id
        self.system = system
        self.thinking = thinking
        self.history: list[dict[str, Any]] = [
            {
                "role": "user",
                "content": [{"type": "text", "text": REMINDER}, {"type": "text", "text": prompt}],
            }
        ]
        if inject_system:
            self.history.append(
                {"role": "system", "content": AGENT_TYPES if agent_id is None else SKILLS}
            )
        self.pending_tools: list[str] = []

    def fork(self) -> Agent:
        twin = copy.copy(self)
        twin.history = copy.deepcopy(self.history)
        twin.pending_tools = list(self.pending_tools)
        return twin

    def send(
        self,
        label: str,
        *,
        text: str | None = None,
        tools: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
        fail: bool = False,
        extra_system: str | None = None,
        **at: Any,
    ) -> RequestRecord:
        """Send the history; the reply (unless ``fail``) joins the history."""
        messages = [m for m in copy.deepcopy(self.history)]
        if extra_system is not None:
            messages.append({"role": "system", "content": extra_system})
        _move_cache_control(messages)
        body = {
            "model": MAIN_MODEL,
            "messages": messages,
            "system": self.system,
            "tools": TOOLS,
            "metadata": self.session.metadata(),
            "max_tokens": 64000,
            "stream": True,
        }
        content: list[dict[str, Any]] = []
        if self.thinking:
            content.append(
                {
                    "type": "thinking",
                    "thinking": f"thinking about {label}",
                    "signature": "sig" + "x" * 40,
                }
            )
        content.append({"type": "text", "text": text if text is not None else f"reply {label}"})
        self.pending_tools = []
        for name, args in tools:
            tool_id = f"toolu_{self.session.traffic.serial():020d}"
            content.append({"type": "tool_use", "id": tool_id, "name": name, "input": args})
            self.pending_tools.append(tool_id)
        reply = None if fail else _message(content, MAIN_MODEL)
        record = self.session.traffic.add(
            label,
            path="/v1/messages",
            headers=self.session.headers(self.agent_id),
            body=body,
            reply=reply,
            scope=self.session.scope,
            **at,
        )
        if reply is not None:
            self.history.append({"role": "assistant", "content": content})
        return record

    def say(self, text: str, *, as_string: bool = False) -> Agent:
        """The person types the next message."""
        if as_string:
            self.history.append({"role": "user", "content": text})
        else:
            self.history.append(
                {
                    "role": "user",
                    "content": [{"type": "text", "text": REMINDER}, {"type": "text", "text": text}],
                }
            )
        return self

    def results(self, *outputs: str) -> Agent:
        """Tool results for the tool_uses of the last reply."""
        blocks = [
            {"type": "tool_result", "tool_use_id": tool_id, "content": output}
            for tool_id, output in zip(self.pending_tools, outputs, strict=True)
        ]
        self.history.append({"role": "user", "content": blocks})
        return self

    def rewind(self, user_turns: int) -> Agent:
        """A fork of this agent with history cut back to before its ``user_turns``-th typed
        message (1 is the first prompt): what Claude Code's rewind sends next."""
        twin = self.fork()
        typed = [i for i, m in enumerate(twin.history) if m["role"] == "user" and is_typed(m)]
        twin.history = twin.history[: typed[user_turns - 1]]
        return twin

    def compact(
        self, label: str, summary: str, *, new_marker: bool = True, keep_tail: int = 0, **at: Any
    ) -> RequestRecord:
        """The summarising call, then the history restarts from its summary. As CLI 2.1.197 does,
        the prompt joins the last user message, and with ``keep_tail`` the newest messages are left
        out of the call and kept verbatim after the summary."""
        visible = [i for i, m in enumerate(self.history) if m["role"] != "system"]
        keep_tail = min(keep_tail, len(visible) - 1)
        cut = visible[-keep_tail] if keep_tail > 0 else len(self.history)
        summarised, tail = (
            self.history[:cut],
            [m for m in self.history[cut:] if m["role"] != "system"],
        )
        messages = copy.deepcopy(summarised)
        last = next((m for m in reversed(messages) if m["role"] != "system"), None)
        if last is not None and last["role"] == "user" and isinstance(last["content"], list):
            last["content"].append({"type": "text", "text": COMPACT_PROMPT})
        else:
            messages.append({"role": "user", "content": [{"type": "text", "text": COMPACT_PROMPT}]})
        _move_cache_control(messages)
        body = {
            "model": MAIN_MODEL,
            "messages": messages,
            "system": self.system,
            "tools": TOOLS,
            "metadata": self.session.metadata(),
            "max_tokens": 20000,
            "stream": True,
        }
        text = (
            f"<analysis>\nthe user worked on things\n</analysis>\n<summary>\n{summary}\n</summary>"
        )
        record = self.session.traffic.add(
            label,
            path="/v1/messages",
            headers=self.session.headers(self.agent_id),
            body=body,
            reply=_message([{"type": "text", "text": text}], MAIN_MODEL),
            scope=self.session.scope,
            **at,
        )
        marker = NEW_MARKER if new_marker else OLD_MARKER
        processed = marker + "Summary:\n" + summary
        if new_marker:
            processed += "\nRecent messages are preserved verbatim."
        self.history = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": REMINDER},
                    {"type": "text", "text": processed},
                ],
            }
        ]
        self.history += copy.deepcopy(tail)
        return record


def agent_call(prompt: str, description: str = "do a thing") -> tuple[str, dict[str, Any]]:
    return (
        "Agent",
        {"description": description, "prompt": prompt, "subagent_type": "general-purpose"},
    )


def is_typed(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, str) or any(b.get("type") == "text" for b in content)


def _move_cache_control(messages: list[dict[str, Any]]) -> None:
    """Claude Code marks only the newest block for caching; the mark moves every turn."""
    for message in messages:
        if isinstance(message["content"], list):
            for block in message["content"]:
                block.pop("cache_control", None)
    last = next((m for m in reversed(messages) if m["role"] == "user"), None)
    if last is not None and isinstance(last["content"], list) and last["content"]:
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}


def _message(content: list[dict[str, Any]], model: str) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 50,
        },
    }
