"""What Nexus knows of Anthropic / Claude Code request bodies, parsed once, typed.

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
