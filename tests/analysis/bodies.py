"""Request and response bodies in Claude Code's shapes, for transcript and worker tests."""

from __future__ import annotations

from typing import Any

import orjson

REMINDER = "<system-reminder>Today's date is 2025-06-01.</system-reminder>"


def user(text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": REMINDER}, {"type": "text", "text": text}],
    }


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, tool_id: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def tool_result(tool_id: str, content: str, *, is_error: bool = False) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "content": content,
                "is_error": is_error,
            }
        ],
    }


def request_body(messages: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "model": "claude-opus-4-8",
            "max_tokens": 64000,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": messages,
            "stream": True,
        }
    )


def response(*blocks: dict[str, Any]) -> bytes:
    return orjson.dumps({"role": "assistant", "type": "message", "content": list(blocks)})


def session(turns: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """A linear session: each (prompt, answer) is one request resending the whole history."""
    history: list[dict[str, Any]] = []
    pairs = []
    for prompt, answer in turns:
        history.append(user(prompt))
        reply = text(answer)
        pairs.append((request_body(list(history)), response(reply)))
        history.append(assistant(reply))
    return pairs
