"""What Nexus knows of Anthropic / Claude Code request bodies, parsed once, typed: the body's
top-level fields, its content blocks (texts, tool results, the agent tools that spawn
sub-agents), the injected reminders and the session id in ``metadata``.

A request body is parsed once per record, in the recorder's ``derive``; every later stage (cutting
it into blobs, search text, the linker's fingerprint) reads the same ``ParsedRequest`` from the
record instead of parsing the ~200 KB body again. Stages that only have the bytes (a request read
back from the store for a rebuild) call ``parse_request`` themselves. The sole owner of how a body
is parsed and what its top-level fields mean; never raises on odd input: a body that is not a JSON
object parses to ``value=None`` and empty fields. Also the sole owner of how the
``<system-reminder>`` blocks Claude Code injects into user turns are removed: in one linear pass
whatever the text (a regex ``<tag>.*?</tag>`` rescans from every unclosed opening tag: quadratic
on hostile input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True, eq=False)
class ParsedRequest:
    """One request body: its bytes and their parse (None when they are not a JSON object)."""

    raw: bytes
    value: dict[str, Any] | None

    @property
    def model(self) -> str | None:
        model = self.field("model")
        return model if isinstance(model, str) else None

    @property
    def is_streaming(self) -> bool:
        return self.field("stream") is True

    @property
    def messages(self) -> list[Any]:
        return _list(self.field("messages"))

    @property
    def tools(self) -> list[Any]:
        return _list(self.field("tools"))

    def field(self, name: str) -> Any:
        return self.value.get(name) if self.value is not None else None


def parse_request(raw: bytes) -> ParsedRequest:
    return ParsedRequest(raw, parse_object(raw))


def parse_object(raw: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (absent, malformed, not an object)."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def parsed_body(raw: bytes, parsed: ParsedRequest | None) -> ParsedRequest:
    """``parsed`` when it is the parse of ``raw`` (what the recorder attached), else a new parse."""
    if parsed is not None and parsed.raw is raw:
        return parsed
    return parse_request(raw)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


REMINDER_OPEN = "<system-reminder>"
REMINDER_CLOSE = "</system-reminder>"


def strip_reminders(text: str) -> str:
    """``text`` without its ``<system-reminder>…</system-reminder>`` blocks (an unclosed one stays)."""
    start = text.find(REMINDER_OPEN)
    if start < 0:
        return text
    kept: list[str] = []
    pos = 0
    while start >= 0:
        end = text.find(REMINDER_CLOSE, start + len(REMINDER_OPEN))
        if end < 0:  # no block closes after this opening, nor after any later one
            break
        kept.append(text[pos:start])
        pos = end + len(REMINDER_CLOSE)
        start = text.find(REMINDER_OPEN, pos)
    kept.append(text[pos:])
    return "".join(kept)


def is_reminder(text: str) -> bool:
    """A text block that is a whole ``<system-reminder>`` Claude Code injected (not typed)."""
    return text.lstrip().startswith(REMINDER_OPEN)


# -- content blocks -------------------------------------------------------------------------------
# The tools whose tool_use spawns a sub-agent: ``Agent`` (current CLIs) and ``Task`` (older ones).
AGENT_TOOLS = frozenset({"Agent", "Task"})


def text_blocks(content: Any) -> list[str]:
    """The texts of a message's ``content``: the string itself, or its ``text`` blocks in order."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]


def message_text(content: Any) -> str:
    return "\n".join(text_blocks(content))


def agent_tool_uses(content: Any) -> list[dict[str, Any]]:
    """The ``tool_use`` blocks of ``content`` that spawn a sub-agent."""
    if not isinstance(content, list):
        return []
    return [
        block
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "tool_use"
        and isinstance(block.get("name"), str)  # an odd body may name a tool with a list
        and block["name"] in AGENT_TOOLS
    ]


def tool_result_text(content: Any, sep: str = "\n") -> str:
    """What a ``tool_result`` block's ``content`` says: the string, or its text blocks joined by
    ``sep`` with ``[image]``-style placeholders for the others."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type', 'block')}]")
    return sep.join(parts)


# -- session ids ----------------------------------------------------------------------------------
_LEGACY_SESSION = re.compile(r"_session_([0-9a-fA-F-]{36})")


def session_id(metadata: object) -> str | None:
    """The session id in ``metadata.user_id``: a JSON string (new CLIs) or ``user_…_session_<uuid>``."""
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str):
        return None
    if user_id.startswith("{"):
        try:
            parsed = orjson.loads(user_id)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
            return str(parsed["session_id"])
    match = _LEGACY_SESSION.search(user_id)
    return match.group(1) if match else None
