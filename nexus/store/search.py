"""What full-text search (``RequestFilter.text``, the API's ``q``) indexes for one request.

Claude Code resends the whole history on every turn, so indexing every message of every request
would grow with the square of a conversation. A request contributes only what is new in it: the
text of its trailing user turn (the messages after the last assistant message, minus
``<system-reminder>`` blocks) and the text its response added (text blocks and tool calls). Each
prompt and each reply is therefore found in the request that carried it first. Pure functions; the
store mixins write the result.
"""

from __future__ import annotations

from typing import Any

import orjson

from nexus.records import RequestRecord
from nexus.wire import ParsedRequest, is_reminder, parse_request, parsed_body

MAX_SEARCH_CHARS = 32_000  # per request; enough for any prompt people search for
_TOOL_INPUT_CHARS = 2_000


def search_text(record: RequestRecord) -> str:
    """The user and assistant text of ``record`` that search should find, capped."""
    parsed = parsed_body(record.exchange.request_body, record.parsed_request)
    return _joined(parsed, record.response_message)


def search_text_from(request_body: bytes, response_message: bytes | None) -> str:
    """``search_text`` from the stored parts (a request read back, for re-indexing)."""
    return _joined(parse_request(request_body), response_message)


def _joined(request: ParsedRequest, response_message: bytes | None) -> str:
    parts = _new_user_text(request.messages)
    parts += _response_text(response_message)
    return "\n".join(p for p in parts if p)[:MAX_SEARCH_CHARS]


def _new_user_text(messages: list[Any]) -> list[str]:
    trailing: list[Any] = []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            break
        trailing.append(message)
    texts: list[str] = []
    for message in reversed(trailing):
        if isinstance(message, dict) and message.get("role") == "user":
            texts.extend(_block_texts(message.get("content"), include_tools=False))
    return texts


def _response_text(message_json: bytes | None) -> list[str]:
    if not message_json:
        return []
    return _block_texts(_field(_loads(message_json), "content"), include_tools=True)


def _block_texts(content: Any, *, include_tools: bool) -> list[str]:
    if isinstance(content, str):
        return [] if is_reminder(content) else [content]
    if not isinstance(content, list):
        return []
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            if not is_reminder(block["text"]):
                texts.append(block["text"])
        elif kind == "tool_use" and include_tools:
            try:
                tool_input = orjson.dumps(block.get("input")).decode()[:_TOOL_INPUT_CHARS]
            except orjson.JSONEncodeError:  # nested past orjson's write limit: name only
                tool_input = ""
            texts.append(f"{block.get('name', '')} {tool_input}")
    return texts


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
