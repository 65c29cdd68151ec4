"""What a Messages request body says, read the way the responders need: the last user text, the
tool results it carries, its first prompt. Lenient by design: a body of the wrong shape reads as
empty rather than raising, since the fake answers whatever a client sends.
"""

from __future__ import annotations

from typing import Any


def last_user_text(body: Any) -> str:
    """The text of the last user message, without ``<system-reminder>`` blocks."""
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content or ()
            if isinstance(block, dict)
            and block.get("type") == "text"
            and not str(block.get("text", "")).startswith("<system-reminder>")
        ]
        return "\n".join(texts)
    return ""


def tool_results(body: Any) -> list[str]:
    """The text of the tool_result blocks in the last user message (empty if it holds none)."""
    if not isinstance(body, dict):
        return []
    for message in reversed(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            return []
        found = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    inner = " ".join(str(b.get("text", "")) for b in inner if isinstance(b, dict))
                found.append(str(inner or ""))
        return found
    return []


def last_user_blocks_text(body: dict[str, Any]) -> str:
    """All text of the last user message, reminders included (they carry the markers)."""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def first_user_text(body: dict[str, Any]) -> str:
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        str(b.get("text", "")) for b in content or () if isinstance(b, dict) and "text" in b
    )
