"""What Nexus knows of Anthropic / Claude Code request bodies, parsed once, typed: the body's
top-level fields, its content blocks (texts, tool results, the agent tools that spawn
sub-agents), the injected reminders and the session id in ``metadata``.

A request body is parsed once per record, in the recorder's ``derive``; every later stage (cutting
it into blobs, search text, the linker's fingerprint) reads the same ``ParsedRequest`` from the
record instead of parsing the ~200 KB body again. Stages that only have the bytes (a request read
back from the store for a rebuild) call ``parse_request`` themselves. The sole owner of how a body
is parsed, what its top-level fields mean and what a content block's kind is (``content_blocks``); never raises on odd input: a body that is not a JSON
object parses to ``value=None`` and empty fields. Also the sole owner of how the
``<system-reminder>`` blocks Claude Code injects into user turns are removed: in one linear pass
whatever the text (a regex ``<tag>.*?</tag>`` rescans from every unclosed opening tag: quadratic
on hostile input).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson


@dataclass(frozen=True, slots=True, eq=False)
class ParsedRequest:
    """One request body: its bytes and their parse (None when they are not a JSON object)."""

    raw: bytes
    value: dict[str, Any] | None
    # The bytes of each element of ``messages`` as the body holds them, once a stage measured them
    # (the store's cutter does, verified by rebuilding the body); empty until then. Equal bytes
    # mean equal messages, so the linker's memory compares these instead of serialising every
    # message again (nexus/conversations/memory.py).
    message_bytes: list[bytes] = field(default_factory=list)

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


def parse_request(raw: bytes, memory: ValueMemory | None = None) -> ParsedRequest:
    """``memory``: values recent bodies repeated (the recorder's; see ``ValueMemory``)."""
    return ParsedRequest(raw, parse_object(raw) if memory is None else memory.parse(raw))


def parse_object(raw: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (absent, malformed, not an object)."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class ValueMemory:
    """The ``tools`` and ``system`` values recent bodies carried, parsed once. Every Claude Code
    call of one version repeats both byte for byte (57 KB and 22 KB in a 190 KB body; the tools'
    JSON schemas are a third of the body's parse). A body holding remembered bytes right after a
    ``"tools":`` or ``"system":`` is parsed with a placeholder there, then given the remembered
    value: the result equals the parse of the whole body. The placeholder is a string with a
    random 128-bit nonce; when it is not the top-level value (the bytes were a nested key's) the
    body is parsed whole. Values are shared between parses: nobody may change a parse."""

    KEYS = ("tools", "system")
    # Values remembered per key: Claude Code versions, sub-agents' tool sets, and the system prompts
    # of live sessions (the long prompt carries the session's environment).
    KEEP = 16
    MIN_BYTES = 2048  # smaller values cost less to parse than to look for

    def __init__(self) -> None:
        self._nonce = "\x00nexus-" + secrets.token_hex(16)
        self._placeholder = orjson.dumps(self._nonce)
        self._known: dict[str, list[tuple[bytes, Any]]] = {key: [] for key in self.KEYS}

    def parse(self, raw: bytes) -> dict[str, Any] | None:
        spans = sorted(
            (found[0], found[1], key, found[2])
            for key in self.KEYS
            if (found := self._find(raw, key)) is not None
        )
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):  # nested
            spans = []
        if not spans:
            return self._learn(raw, parse_object(raw), ())
        pieces: list[bytes] = []
        pos = 0
        for start, end, _, _ in spans:
            pieces += (raw[pos:start], self._placeholder)
            pos = end
        pieces.append(raw[pos:])
        value = parse_object(b"".join(pieces))
        if value is None or any(value.get(key) != self._nonce for _, _, key, _ in spans):
            return self._learn(raw, parse_object(raw), ())  # nested, or not a JSON object
        for _, _, key, known in spans:
            value[key] = known  # in place: the keys keep their order
        return self._learn(raw, value, [key for _, _, key, _ in spans])

    def _find(self, raw: bytes, key: str) -> tuple[int, int, Any] | None:
        known = self._known[key]
        for start in _after_key(raw, key) if known else ():
            for n, (data, value) in enumerate(known):
                if raw.startswith(data, start):
                    known.insert(0, known.pop(n))  # the most recently used first
                    return start, start + len(data), value
        return None

    def _learn(
        self, raw: bytes, value: dict[str, Any] | None, reused: Sequence[str]
    ) -> dict[str, Any] | None:
        """Remember this body's other values when its bytes hold them as ``orjson`` writes them."""
        if value is None or len(raw) < self.MIN_BYTES:
            return value
        for key in self.KEYS:
            item = value.get(key)
            if key in reused or not isinstance(item, list | dict):
                continue
            data = orjson.dumps(item)
            if len(data) < self.MIN_BYTES or not any(
                raw.startswith(data, start) for start in _after_key(raw, key)
            ):
                continue
            known = self._known[key]
            known.insert(0, (memoryview(data).tobytes(), item))  # exact size: orjson over-allocates
            del known[self.KEEP :]
        return value


def _after_key(raw: bytes, key: str) -> Iterator[int]:
    """Where a value follows a ``"key":`` in ``raw`` (at any depth)."""
    token = b'"' + key.encode() + b'":'
    at = raw.find(token)
    while at >= 0:
        yield at + len(token)
        at = raw.find(token, at + len(token))


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

BlockKind = Literal[
    "text", "thinking", "redacted_thinking", "tool_use", "tool_result", "image", "document", "other"
]
_KINDS: dict[str, BlockKind] = {
    "text": "text",
    "thinking": "thinking",
    "redacted_thinking": "redacted_thinking",
    "tool_use": "tool_use",
    "server_tool_use": "tool_use",  # a tool the API runs itself (web search): drawn as a call
    "tool_result": "tool_result",
    "image": "image",
    "document": "document",
}


class ContentBlock(NamedTuple):
    """One block of a message's ``content``, typed: what its kind means is read here once, and the
    views (transcripts, the TUI's chat, the cache ledger's diff) only decide how it looks.

    ``text`` is a text block's text or a thinking block's thinking (``""`` when absent); ``tool_id``
    is a tool_use's id or the id a tool_result answers (None when absent); ``name`` and ``input``
    are a tool_use's; ``content`` and ``is_error`` a tool_result's; ``raw`` is the block as sent
    (an image's source, an unknown block's fields). A named tuple rather than a frozen dataclass:
    as immutable, and about twice as fast to make (a long conversation has thousands of blocks)."""

    kind: BlockKind
    type: str | None  # as sent: ``server_tool_use`` is kind ``tool_use``; None when not given
    text: str = ""
    tool_id: str | None = None
    name: str | None = None
    input: Any = None
    content: Any = None
    is_error: bool = False
    raw: Any = None

    @property
    def is_reminder(self) -> bool:
        return self.kind == "text" and is_reminder(self.text)

    @property
    def source(self) -> dict[str, Any]:
        """An image's or a document's ``source`` (empty when it has none)."""
        source = self.raw.get("source") if isinstance(self.raw, dict) else None
        return source if isinstance(source, dict) else {}


def content_blocks(content: Any) -> list[ContentBlock]:
    """A message's ``content`` as typed blocks: a string is one text block, a list one block per
    element (an element that is not an object is an ``other`` block); anything else, none."""
    if isinstance(content, str):
        return [ContentBlock("text", "text", text=content, raw=content)]
    if not isinstance(content, list):
        return []
    return [_content_block(block) for block in content]


def _content_block(block: object) -> ContentBlock:
    if not isinstance(block, dict):
        return ContentBlock("other", None, raw=block)
    sent = block.get("type")
    kind = _KINDS.get(sent, "other") if isinstance(sent, str) else "other"
    type_ = None if sent is None else str(sent)
    if kind == "text":
        return ContentBlock(kind, type_, text=_str(block.get("text")), raw=block)
    if kind == "thinking":
        return ContentBlock(kind, type_, text=_str(block.get("thinking")), raw=block)
    if kind == "tool_use":
        return ContentBlock(
            kind, type_, tool_id=_opt_str(block.get("id")), name=_opt_str(block.get("name")),
            input=block.get("input"), raw=block,
        )  # fmt: skip
    if kind == "tool_result":
        return ContentBlock(
            kind, type_, tool_id=_opt_str(block.get("tool_use_id")), content=block.get("content"),
            is_error=bool(block.get("is_error")), raw=block,
        )  # fmt: skip
    return ContentBlock(kind, type_, raw=block)


def _str(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


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


# -- the system prompt ----------------------------------------------------------------------------
def system_texts(system: Any) -> list[str]:
    """The text of each block of a request's ``system``, index for index with its blocks: a string
    is one block; in a list, a block's string ``text`` (its ``type``, ``cache_control`` and other
    fields aside), ``""`` for a block with none (the API takes text blocks only). Anything else:
    no blocks. Claude Code's billing header and identity line are blocks like any other
    (``nexus.claude_code.SHARED_SYSTEM_LINES`` names them for readers that skip them)."""
    if isinstance(system, str):
        return [system]
    if not isinstance(system, list):
        return []
    return [_block_text(block) for block in system]


def _block_text(block: object) -> str:
    text = block.get("text") if isinstance(block, dict) else None
    return text if isinstance(text, str) else ""


def system_text(system: Any, sep: str = "\n") -> str:
    """A request's system prompt as one text: its blocks' texts (``system_texts``) joined by
    ``sep``; a block with no text adds nothing."""
    if isinstance(system, str):
        return system
    return sep.join(t for t in system_texts(system) if t)


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
