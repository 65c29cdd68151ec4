"""A request body and its response as a chat: who said what, in order, with each tool call paired
with its result. Pure: bytes in (the stored request body and assembled response), entries out;
what each block is comes from ``nexus.wire.content_blocks``, how it looks is decided here.

Thinking stays whole here (the view collapses it); images and documents are named, and image blocks
(of a message or inside a tool result) are carried along for the view to draw.
A tool_result is shown under the tool_use it answers, so the user turn that carried it only keeps
what the person (or Claude Code) actually wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from nexus.tui.cells import size_bytes
from nexus.wire import ContentBlock, content_blocks, system_text


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing in the chat. ``kind``: system, user, assistant, thinking, tool, image, note."""

    kind: str
    text: str = ""
    role: str = ""
    name: str = ""  # tool name, or the media type of an image
    tool_input: str = ""  # pretty JSON
    result: str | None = None  # the matching tool_result's text (None: no result in this body)
    is_error: bool = False
    is_response: bool = False  # from the response rather than the request's history
    turn: int = 0  # index of the message it came from (0 = system)
    images: tuple[dict[str, Any], ...] = ()  # image blocks to draw (the block, or a tool result's)


def _loads(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def chat_entries(request_body: bytes | None, response_message: bytes | None) -> list[Entry]:
    """The conversation this request sent, then the response it got."""
    body = _loads(request_body)
    response = _loads(response_message)
    messages = list(body.get("messages") or ()) if isinstance(body, dict) else []
    # Each message's blocks, parsed once for the three passes: results, calls, entries.
    parsed = [_list_blocks(m.get("content")) if isinstance(m, dict) else [] for m in messages]
    answer = response.get("content") if isinstance(response, dict) else None
    answer_blocks = _list_blocks(answer)
    results = _tool_results(parsed)
    calls = {b.tool_id or "" for bs in (*parsed, answer_blocks) for b in bs if b.kind == "tool_use"}
    entries: list[Entry] = []
    if isinstance(body, dict):
        system = body.get("system")
        if system:
            entries.append(Entry("system", system_text(system), role="system"))
        for turn, (message, blocks) in enumerate(zip(messages, parsed, strict=True), start=1):
            if isinstance(message, dict):
                entries.extend(_message(message, blocks, results, calls, turn, is_response=False))
    elif body is None and request_body:
        entries.append(Entry("note", "the request body is not JSON"))
    if isinstance(response, dict) and answer is not None:
        turn = len(messages) + 1 if isinstance(body, dict) else 1
        message = {"role": response.get("role") or "assistant", "content": answer}
        entries.extend(_message(message, answer_blocks, results, calls, turn, is_response=True))
    return entries


Result = tuple[str, bool, tuple[dict[str, Any], ...]]
"""A tool result's text, whether it failed, and the image blocks it holds."""


def _list_blocks(content: Any) -> list[ContentBlock]:
    """The blocks of a list ``content`` (a string content is one entry, drawn apart)."""
    return content_blocks(content) if isinstance(content, list) else []


def _drawn(block: ContentBlock) -> bool:
    """An image the view draws under its own title line (base64 data), so no text names it too;
    a URL or file reference has nothing to draw and stays named in the text."""
    source = block.raw.get("source") if isinstance(block.raw, dict) else None
    return block.kind == "image" and isinstance(source, dict) and source.get("type") == "base64"


def _images_in(value: Any) -> tuple[dict[str, Any], ...]:
    return tuple(b.raw for b in _list_blocks(value) if _drawn(b))


def _tool_results(parsed: list[list[ContentBlock]]) -> dict[str, Result]:
    found: dict[str, Result] = {}
    for blocks in parsed:
        for block in blocks:
            if block.kind == "tool_result":
                found[block.tool_id or ""] = (
                    _text_of(block.content, drawn_apart=True),
                    block.is_error,
                    _images_in(block.content),
                )
    return found


def _message(
    message: dict[str, Any],
    blocks: list[ContentBlock],
    results: dict[str, Result],
    calls: set[str],
    turn: int,
    *,
    is_response: bool,
) -> list[Entry]:
    role = str(message.get("role") or "user")
    content = message.get("content")
    if isinstance(content, str):
        return [Entry(_role_kind(role), content, role=role, turn=turn, is_response=is_response)]
    entries: list[Entry] = []
    for block in blocks:
        if not isinstance(block.raw, dict):
            continue
        entry = _block(block, role, results, calls, turn, is_response)
        if entry is not None:
            entries.append(entry)
    return entries


def _block(
    block: ContentBlock,
    role: str,
    results: dict[str, Result],
    calls: set[str],
    turn: int,
    is_response: bool,
) -> Entry | None:
    """How the chat shows one block (what the block is, ``nexus.wire`` says)."""
    kind = block.kind
    common = {"role": role, "turn": turn, "is_response": is_response}
    if kind == "text":
        return Entry(_role_kind(role), block.text, **common)  # type: ignore[arg-type]
    if kind == "thinking":
        return Entry("thinking", block.text, **common)  # type: ignore[arg-type]
    if kind == "redacted_thinking":
        return Entry("thinking", "(redacted thinking)", **common)  # type: ignore[arg-type]
    if kind == "tool_use":
        result, is_error, images = results.get(block.tool_id or "", (None, False, ()))
        tool_input = orjson.dumps(block.input, option=orjson.OPT_INDENT_2).decode()
        return Entry(
            "tool",
            name=block.name or "?",
            tool_input=tool_input,
            result=result,
            is_error=is_error,
            images=images,
            **common,  # type: ignore[arg-type]
        )
    if kind == "tool_result":
        tool_id = block.tool_id or ""
        if tool_id in calls:
            return None  # shown under its tool_use
        # Its call is not in this body (an earlier, compacted part): show the result alone.
        return Entry(
            "tool",
            name=f"(result of {tool_id})",
            result=_text_of(block.content, drawn_apart=True),
            is_error=block.is_error,
            images=_images_in(block.content),
            **common,  # type: ignore[arg-type]
        )
    if kind in ("image", "document"):
        images = (block.raw,) if kind == "image" else ()
        return Entry("image", _media_name(block.raw), name=kind, images=images, **common)  # type: ignore[arg-type]
    return Entry("note", f"[{block.type}]", **common)  # type: ignore[arg-type]


def _role_kind(role: str) -> str:
    return "assistant" if role == "assistant" else "user"


def _media_name(block: dict[str, Any]) -> str:
    source = block.get("source") or {}
    kind = block.get("type", "image")
    if not isinstance(source, dict):
        return f"[{kind}]"
    if source.get("type") == "url":
        return f"[{kind}: {source.get('url')}]"
    media = source.get("media_type") or source.get("type") or "?"
    data = source.get("data")
    size = f", {size_bytes(len(data) * 3 // 4)}" if isinstance(data, str) else ""
    title = f" {block['title']!r}" if block.get("title") else ""
    return f"[{kind}{title}: {media}{size}]"


def _text_of(value: Any, *, drawn_apart: bool = False) -> str:
    """Text of a tool_result's content (a string or a list of blocks).
    ``drawn_apart``: leave out the images the view draws with their own title (``_drawn``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for block in content_blocks(value):
            if isinstance(block.raw, str):
                parts.append(block.raw)
            elif not isinstance(block.raw, dict):
                continue
            elif block.kind == "text":
                parts.append(block.text)
            elif drawn_apart and _drawn(block):
                continue
            elif block.kind in ("image", "document"):
                parts.append(_media_name(block.raw))
            else:
                parts.append(f"[{block.type}]")
        return "\n".join(parts)
    return str(value)
