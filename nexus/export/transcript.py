"""One request read as a turn of a transcript: what was new in its input and what came back.

This module owns how the human formats show a request (what each block is comes from
``nexus.wire.content_blocks``). A turn's input is every
message after the last assistant message of the request (the history before it was shown by the
earlier turns); its output is the assembled response message, or the error. Unknown block shapes
become ``other`` blocks, never errors; a body that is not JSON becomes one ``other`` block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from nexus.records import StoredRequest
from nexus.wire import ContentBlock, agent_tool_uses, content_blocks, tool_result_text
from nexus.wire import system_text as wire_system_text

BlockKind = Literal["text", "reminder", "thinking", "tool_use", "tool_result", "image", "other"]


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str
    name: str | None = None  # tool name (tool_use, and tool_result when its call is known)
    tool_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # user | assistant | system
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class AgentCall:
    """An ``Agent``/``Task`` tool_use in a response: what a sub-agent was asked to do."""

    tool_id: str | None
    description: str
    subagent_type: str
    prompt: str


@dataclass(frozen=True, slots=True)
class TurnContent:
    inputs: tuple[Message, ...]
    output: Message | None
    error: str | None
    system_chars: int = 0
    system_text: str = ""
    agent_calls: tuple[AgentCall, ...] = field(default=())

    def first_user_text(self) -> str:
        for message in self.inputs:
            if message.role == "user":
                return "\n".join(b.text for b in message.blocks if b.kind == "text")
        return ""


def read_turn(record: StoredRequest) -> TurnContent:
    try:
        body = orjson.loads(record.request_body) if record.request_body else {}
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        text = record.request_body.decode("utf-8", "replace")
        inputs: tuple[Message, ...] = (Message("user", (Block("other", text),)),)
        system_text = ""
    else:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        names = _tool_names(messages)
        last_assistant = max(
            (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1
        )
        inputs = tuple(_message(m, names) for m in messages[last_assistant + 1 :])
        system_text = wire_system_text(body.get("system"), "\n\n")  # blocks as paragraphs
    output, calls = _output(record.response_message)
    return TurnContent(
        inputs=inputs,
        output=output,
        error=_error(record) if output is None else None,
        system_chars=len(system_text),
        system_text=system_text,
        agent_calls=calls,
    )


def _tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for m in messages:
        if m.get("role") != "assistant" or not isinstance(m.get("content"), list):
            continue
        for b in content_blocks(m.get("content")):
            if b.type == "tool_use":
                names[str(b.tool_id)] = "tool" if b.name is None else b.name
    return names


def _message(m: dict[str, Any], names: dict[str, str]) -> Message:
    role = str(m.get("role", "user"))
    content = m.get("content")
    if isinstance(content, (str, list)):
        blocks = tuple(_block(b, names) for b in content_blocks(content))
    else:
        blocks = (Block("other", _dump(content)),)
    if role == "system":
        # Claude Code injects role:"system" messages (agent types, skills): context, not a turn.
        blocks = tuple(Block("reminder", b.text) if b.kind == "text" else b for b in blocks)
    return Message(role, blocks)


def _block(b: ContentBlock, names: dict[str, str]) -> Block:
    """How a transcript shows one block (what the block is, ``nexus.wire`` says)."""
    if b.kind == "text":
        return Block("reminder" if b.is_reminder else "text", b.text)
    if b.kind == "thinking":
        return Block("thinking", b.text)
    if b.kind == "redacted_thinking":
        return Block("thinking", "[redacted thinking]")
    if b.kind == "tool_use":
        return Block("tool_use", _dump(b.input, pretty=True), str(b.name), b.tool_id)
    if b.kind == "tool_result":
        name = names.get(str(b.tool_id))
        return Block("tool_result", _result_text(b.content), name, b.tool_id, b.is_error)
    if b.kind in ("image", "document"):
        media = b.source.get("media_type") or b.source.get("type") or "?"
        return Block("image", f"[{b.kind}: {media}]")
    if not isinstance(b.raw, dict):
        return Block("other", _dump(b.raw))
    return Block("other", _dump(b.raw, pretty=True), str(b.type))


def _result_text(content: object) -> str:
    if content is None or isinstance(content, (str, list)):
        return tool_result_text(content)
    return _dump(content)


def _dump(value: object, *, pretty: bool = False) -> str:
    option = orjson.OPT_INDENT_2 if pretty else 0
    try:
        return orjson.dumps(value, option=option).decode("utf-8")
    except TypeError:
        return repr(value)


def _output(message: bytes | None) -> tuple[Message | None, tuple[AgentCall, ...]]:
    if not message:
        return None, ()
    try:
        data = orjson.loads(message)
    except orjson.JSONDecodeError:
        return Message("assistant", (Block("other", message.decode("utf-8", "replace")),)), ()
    if not isinstance(data, dict):
        return Message("assistant", (Block("other", _dump(data)),)), ()
    content = data.get("content")
    blocks = content if isinstance(content, list) else []
    calls = tuple(_agent_call(b) for b in agent_tool_uses(blocks))
    return Message("assistant", tuple(_block(b, {}) for b in content_blocks(blocks))), calls


def _agent_call(b: dict[str, Any]) -> AgentCall:
    data = b.get("input")
    args: dict[str, Any] = data if isinstance(data, dict) else {}
    return AgentCall(
        tool_id=b.get("id"),
        description=str(args.get("description", "")),
        subagent_type=str(args.get("subagent_type", "")),
        prompt=str(args.get("prompt", "")),
    )


def _error(record: StoredRequest) -> str | None:
    s = record.summary
    try:
        data = orjson.loads(record.response_body) if record.response_body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        return f"{err.get('type', 'error')}: {err.get('message', '')}"
    if s.error:
        return s.error
    if s.status is not None and s.status >= 400:
        return f"HTTP {s.status}"
    if s.status is None:
        return s.outcome.value
    return None


def match_agent_call(
    calls: tuple[AgentCall, ...], sub_first_text: str, index: int
) -> AgentCall | None:
    """The call whose prompt started this sub-agent (else the ``index``-th call, else None)."""
    for call in calls:
        if call.prompt and call.prompt.strip() in sub_first_text:
            return call
    return calls[index] if index < len(calls) else None


def fold(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its head and tail."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    folded = len(text) - head - tail
    return f"{text[:head]}\n… [{folded:,} characters folded] …\n{text[len(text) - tail :]}"
