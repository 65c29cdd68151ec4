"""Claude Code-shaped conversations for cache ledger tests: bodies with its breakpoints (the
identity and prompt system blocks, the last block of the last message), turns that extend the
previous request, and usage a caching server would report. Each knob changes one thing, so a test
can script exactly one cause of a break."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from nexus.records import RequestRecord, Usage
from tests.factories import make_record

MODEL = "claude-opus-4-8"
SESSION = "5f0c8a7e-0000-4000-8000-00000000cafe"
TOOLS: list[dict[str, Any]] = [
    {"name": name, "description": f"The {name} tool. " + "Use it well. " * 40,
     "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}}
    for name in ("Bash", "Read", "Edit", "Agent")
]  # fmt: skip
PROMPT = "You are an interactive CLI tool that helps users with software engineering tasks. " * 60


def system(date: str = "2026-12-03", claude_md: str = "Run tests with pytest.") -> list[Any]:
    return [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197;"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": f"{PROMPT}\nToday's date is {date}.\nCLAUDE.md: {claude_md}",
         "cache_control": {"type": "ephemeral"}},
    ]  # fmt: skip


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def with_breakpoint(messages: list[Any], ttl: str | None = None) -> list[Any]:
    """The messages with cache_control on the last block of the last one (Claude Code's way)."""
    out = copy.deepcopy(messages)
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    out[-1]["content"][-1]["cache_control"] = control
    return out


class Chat:
    """One agent's line of work: every ``send`` extends the previous request's messages with its
    reply and a new user turn."""

    def __init__(self, start_ms: int = 1_790_000_000_000, session: str = SESSION) -> None:
        self.at_ms = start_ms
        self.session = session
        self.messages: list[Any] = []
        self.records: list[RequestRecord] = []

    def send(
        self,
        text: str,
        *,
        read: int,
        write: int,
        write_1h: int = 0,
        model: str = MODEL,
        tools: list[Any] | None = None,
        system_blocks: list[Any] | None = None,
        thinking: dict[str, Any] | None = None,
        ttl: str | None = None,
        breakpoints: bool = True,
        gap_ms: int = 20_000,
        edit: Any = None,
    ) -> RequestRecord:
        """The next request; ``edit(messages)`` may change the earlier history in place first."""
        if self.records:
            self.at_ms += gap_ms
        self.messages.append(user(text))
        if edit is not None:
            edit(self.messages)
        messages = (
            with_breakpoint(self.messages, ttl) if breakpoints else copy.deepcopy(self.messages)
        )
        sys_blocks = system_blocks if system_blocks is not None else system()
        if not breakpoints:
            sys_blocks = [{k: v for k, v in b.items() if k != "cache_control"} for b in sys_blocks]
        body: dict[str, Any] = {
            "model": model, "max_tokens": 64000,
            "system": sys_blocks, "tools": TOOLS if tools is None else tools,
            "messages": messages, "stream": True,
        }  # fmt: skip
        if thinking is not None:
            body["thinking"] = thinking
        usage = Usage(
            input_tokens=3,
            output_tokens=50,
            cache_creation_input_tokens=write + write_1h,
            cache_creation_5m_tokens=write,
            cache_creation_1h_tokens=write_1h,
            cache_read_input_tokens=read,
        )
        reply = f"reply to {text}"
        record = make_record(
            started_at_ms=self.at_ms,
            request_body=orjson.dumps(body),
            reply_text=reply,
            user_text=text,
            model=model,
            usage=usage,
            session_id=self.session,
            duration_ms=2_000,
            message_count=len(messages),
        )
        self.at_ms += 2_000
        self.messages.append({"role": "assistant", "content": [{"type": "text", "text": reply}]})
        self.records.append(record)
        return record
