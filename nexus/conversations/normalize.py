"""Normalised message fingerprints: what makes two requests "the same conversation so far".

Reads the one parse of a request body (``nexus/wire.py``) and owns the hashing rules of
DESIGN.md §5: ``<system-reminder>`` text and injected ``role: "system"`` messages are dropped,
``cache_control`` is ignored, thinking blocks (which clients may strip later) are left out, string
and list content compare equal, repeated tool ids are dropped, and consecutive messages of one role
are merged the way the API merges them. From the normalised messages m_1..m_n it builds chained
prefix hashes P_k = H(P_{k-1} || h(m_k)); the response, normalised the same way, extends the chain
to the continuation key: the P that the next turn of the same conversation carries. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from nexus.claude_code import fork_directive, has_compaction_marker, is_compaction_prompt
from nexus.wire import agent_tool_uses, parse_object, strip_reminders

if TYPE_CHECKING:
    from nexus.conversations.memory import FingerprintMemory

_SUMMARY_TAG = re.compile(r"<summary>(.*?)(?:</summary>|$)", re.DOTALL)
_ANALYSIS_TAG = re.compile(r"<analysis>.*?(?:</analysis>|$)", re.DOTALL)
_MIN_LINE_CHARS = 24  # shorter lines ("Summary:", "1. Primary Request") say nothing distinctive
_MAX_SUMMARY_LINES = 64
_MAX_MARKER_LINES = 400

Message = tuple[str, list[Any]]  # (role, normalised blocks)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def text_key(text: str) -> str:
    """The key of a piece of text (a sub-agent prompt, a summary line): whitespace-insensitive."""
    return digest(" ".join(text.split()).encode())


@dataclass(frozen=True, slots=True)
class AgentCall:
    """An ``Agent``/``Task`` tool_use in a response: a sub-agent about to start with ``prompt``."""

    prompt_key: str
    tool_use_id: str
    description: str
    subagent_type: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What linking needs to know about one request, computed once from its body and response."""

    prefix_keys: tuple[str, ...]  # P_1..P_n over the normalised request messages
    continuation_key: str | None  # P over messages + response; None without a usable response
    first_user_keys: tuple[str, ...]  # the first user message's text: whole, then each block
    marker_index: int  # 1-based index of the last message with a compaction marker (0: none)
    marker_line_keys: tuple[str, ...]  # line keys of that message
    agent_calls: tuple[AgentCall, ...]  # sub-agents the response starts
    summary_line_keys: tuple[str, ...]  # line keys of the summary a compaction call produced
    fork_keys: tuple[str, ...] = ()  # a fork sub-agent's first call: the key of its directive

    @property
    def request_key(self) -> str | None:
        return self.prefix_keys[-1] if self.prefix_keys else None


def parse_json(raw: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (absent, malformed, not an object)."""
    return parse_object(raw)


def fingerprint(
    body: dict[str, Any],
    response: dict[str, Any] | None,
    *,
    is_compaction: bool = False,
    memory: FingerprintMemory | None = None,
    message_bytes: list[bytes] | None = None,
) -> Fingerprint:
    """``memory``: what recent requests' messages normalised to (the shared history is taken from
    there instead of normalised and hashed again; the result is the same). ``message_bytes``: each
    message's bytes in the body, when the cutter measured them (else they are serialised)."""
    raw_messages = body.get("messages")
    raw = raw_messages if isinstance(raw_messages, list) else []
    known = (
        memory.normalise(raw, message_bytes) if memory is not None and not is_compaction else None
    )
    if known is not None:
        last, prefixes, seen = known.last, known.prefixes, known.seen
        first_keys, marker_index = known.first_user_keys, known.marker_index
        marker_lines = known.marker_line_keys
    else:
        seen = set()
        messages = normalize_messages(raw, seen)
        if is_compaction:
            messages = _without_compaction_prompt(messages)
        last = messages[-1] if messages else None
        prefixes = chain_prefixes("", [message_hash(m) for m in messages])
        first_keys, marker_index = first_user_keys(messages), _last_marker(messages)
        marker_lines = marker_line_keys(messages[marker_index - 1]) if marker_index else ()
    continuation = None
    content = response.get("content") if response else None
    reply = _normalize_blocks(content if isinstance(content, list) else [], seen)
    if reply:
        if last is not None and last[0] == "assistant":  # a prefill: the reply extends it
            base = prefixes[-2] if len(prefixes) > 1 else ""
            continuation = _chain(base, message_hash(("assistant", last[1] + reply)))
        else:
            continuation = _chain(
                prefixes[-1] if prefixes else "", message_hash(("assistant", reply))
            )
    return Fingerprint(
        prefix_keys=tuple(prefixes),
        continuation_key=continuation,
        first_user_keys=first_keys,
        marker_index=marker_index,
        marker_line_keys=marker_lines,
        agent_calls=_agent_calls(content if isinstance(content, list) else []),
        summary_line_keys=_summary_lines(reply) if is_compaction else (),
        fork_keys=_fork_keys(last),
    )


def normalize_messages(raw: list[Any], seen_tool_ids: set[str]) -> list[Message]:
    """Normalised (role, blocks) pairs: system messages and empty messages dropped, one role's
    consecutive messages merged. ``seen_tool_ids`` carries tool-id de-duplication across calls."""
    out: list[Message] = []
    for message in raw:
        one = normalize_message(message, seen_tool_ids)
        if one is None:
            continue
        role, blocks = one
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + blocks)
        else:
            out.append((role, blocks))
    return out


def normalize_message(message: Any, seen_tool_ids: set[str]) -> Message | None:
    """One raw message normalised on its own (before merging with its neighbours); None when it
    leaves nothing (a system message, an empty one)."""
    if not isinstance(message, dict):
        return None
    role = message.get("role")
    if role not in ("user", "assistant"):
        return None
    content = message.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = _normalize_blocks(content if isinstance(content, list) else [], seen_tool_ids)
    return (role, blocks) if blocks else None


def tool_keys(blocks: list[Any]) -> tuple[str, ...]:
    """The tool ids that normalised ``blocks`` add to the de-duplication set."""
    keys = []
    for block in blocks:
        if block.get("type") == "tool_use":
            keys.append("u:" + block["id"])
        elif block.get("type") == "tool_result":
            keys.append("r:" + block["tool_use_id"])
    return tuple(keys)


def _normalize_blocks(blocks: list[Any], seen: set[str]) -> list[Any]:
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, str):
            block = {"type": "text", "text": block}
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = _clean_text(block.get("text"))
            if text:
                out.append({"type": "text", "text": text})
        elif kind in ("thinking", "redacted_thinking"):
            continue
        elif kind == "tool_use":
            tool_id = str(block.get("id"))
            if "u:" + tool_id in seen:
                continue
            seen.add("u:" + tool_id)
            out.append({"type": "tool_use", "id": tool_id, "name": block.get("name"),
                        "input": block.get("input")})  # fmt: skip
        elif kind == "tool_result":
            tool_id = str(block.get("tool_use_id"))
            if "r:" + tool_id in seen:
                continue
            seen.add("r:" + tool_id)
            inner = block.get("content")
            if isinstance(inner, str):
                inner = [{"type": "text", "text": inner}]
            content = _normalize_blocks(inner if isinstance(inner, list) else [], set())
            out.append({"type": "tool_result", "tool_use_id": tool_id, "content": content,
                        "is_error": bool(block.get("is_error"))})  # fmt: skip
        else:
            out.append({k: v for k, v in block.items() if k != "cache_control"})
    return out


def _without_compaction_prompt(messages: list[Message]) -> list[Message]:
    """The history a summarising call summarises: its prompt, merged into the last user message,
    removed, so the call continues the turn it follows instead of looking like a rewind."""
    if not messages or messages[-1][0] != "user":
        return messages
    kept = [
        b for b in messages[-1][1]
        if not (b.get("type") == "text" and is_compaction_prompt(b["text"]))
    ]  # fmt: skip
    return messages[:-1] + [("user", kept)] if kept else messages[:-1]


def _clean_text(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return strip_reminders(text).strip()


def message_hash(message: Message) -> str:
    try:
        return digest(orjson.dumps(message, option=orjson.OPT_SORT_KEYS))
    except orjson.JSONEncodeError:  # nested past orjson's write limit (254 levels; a parse: 1024)
        return digest(_flat_bytes(message))


def _flat_bytes(value: Any) -> bytes:
    """A deterministic encoding of a value of any depth, without recursion: scalars as JSON,
    containers as a mark and their size (so the encoding is unambiguous), keys sorted."""
    out = bytearray()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out += b"{%d" % len(item)
            for key in sorted(item, reverse=True):  # the smallest key is popped first
                stack.append(item[key])
                stack.append(key)
        elif isinstance(item, list | tuple):
            out += b"[%d" % len(item)
            stack.extend(reversed(item))
        else:
            out += orjson.dumps(item)
    return bytes(out)


def chain_prefixes(previous: str, hashes: list[str]) -> list[str]:
    """The prefix keys P_k that continue ``previous`` over ``hashes``."""
    out = []
    for h in hashes:
        previous = _chain(previous, h)
        out.append(previous)
    return out


def _chain(previous: str, message_hash: str) -> str:
    return digest((previous + message_hash).encode())


def _texts(blocks: list[Any]) -> list[str]:
    return [b["text"] for b in blocks if b.get("type") == "text"]


def first_user_keys(messages: list[Message]) -> tuple[str, ...]:
    first = next((blocks for role, blocks in messages if role == "user"), None)
    if first is None:
        return ()
    texts = _texts(first)
    if not texts:
        return ()
    keys = [text_key("\n".join(texts))] + [text_key(t) for t in texts]
    return tuple(dict.fromkeys(keys))


def _last_marker(messages: list[Message]) -> int:
    """1-based index of the last user message with a compaction marker (0: none)."""
    for index in range(len(messages) - 1, -1, -1):
        if is_marker_message(messages[index]):
            return index + 1
    return 0


def is_marker_message(message: Message) -> bool:
    role, blocks = message
    return role == "user" and has_compaction_marker("\n".join(_texts(blocks)))


def marker_line_keys(message: Message) -> tuple[str, ...]:
    return line_keys("\n".join(_texts(message[1])), _MAX_MARKER_LINES)


def _fork_keys(last: Message | None) -> tuple[str, ...]:
    """A fork sub-agent starts with the parent's history, so by prefix it continues the spawning
    call; its last user message (the tool_result "Fork started…" and the boilerplate naming its
    directive) says what it is. Only that message: the fork's later calls continue by prefix."""
    if last is None or last[0] != "user":
        return ()
    for text in reversed(_texts(last[1])):
        directive = fork_directive(text)
        if directive:
            return (text_key(directive),)
    return ()


def _summary_lines(reply: list[Any]) -> tuple[str, ...]:
    text = "\n".join(_texts(reply))
    found = _SUMMARY_TAG.search(text)
    return line_keys(found.group(1) if found else _ANALYSIS_TAG.sub("", text), _MAX_SUMMARY_LINES)


def line_keys(text: str, limit: int) -> tuple[str, ...]:
    """Keys of the distinctive lines of a text: a summary survives Claude Code's reformatting
    (tags turned into headings, a preamble added) line by line."""
    keys: dict[str, None] = {}
    for line in text.splitlines():
        line = line.strip()
        if len(line) >= _MIN_LINE_CHARS:
            keys[text_key(line)] = None
            if len(keys) >= limit:
                break
    return tuple(keys)


def _agent_calls(content: list[Any]) -> tuple[AgentCall, ...]:
    calls = []
    for block in agent_tool_uses(content):
        args = block.get("input")
        if not isinstance(args, dict) or not isinstance(args.get("prompt"), str):
            continue
        calls.append(
            AgentCall(
                prompt_key=text_key(args["prompt"]),
                tool_use_id=str(block.get("id") or ""),
                description=str(args.get("description") or ""),
                subagent_type=str(args.get("subagent_type") or ""),
            )
        )
    return tuple(calls)
