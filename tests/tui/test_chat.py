"""A request body and its response as chat entries; a request as curl."""

from __future__ import annotations

import shlex

import orjson

from nexus.tui.chat import chat_entries
from nexus.tui.curl import curl_command
from tests.tui import data


def test_tool_use_carries_its_matching_result_and_images_are_named() -> None:
    row = data.summary(1)
    entries = chat_entries(data.request_body(row), data.response_message(row))
    kinds = [e.kind for e in entries]
    assert kinds == [
        "system",
        "user",
        "thinking",
        "assistant",
        "tool",
        "image",
        "user",
        "assistant",
    ]
    tool = entries[4]
    assert tool.name == "Bash" and '"pytest -q tests/store"' in tool.tool_input
    assert tool.result == "1 failed, 41 passed"
    assert entries[5].text.startswith("[image: image/png")
    assert entries[-1].is_response and "42 passed" in entries[-1].text


def test_a_tool_result_without_its_call_stays_visible() -> None:
    body = orjson.dumps(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_9",
                            "content": "done",
                            "is_error": True,
                        }
                    ],
                }
            ]
        }
    )
    (entry,) = chat_entries(body, None)
    assert entry.kind == "tool" and "toolu_9" in entry.name
    assert entry.result == "done" and entry.is_error


def test_a_body_that_is_not_json_is_said_so() -> None:
    assert chat_entries(b"not json", None)[0].kind == "note"


def test_curl_replays_the_exact_body_and_never_a_secret() -> None:
    stored = data.stored(data.summary(3))
    command = curl_command(stored)
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:4] == ["curl", "-X", "POST", "http://127.0.0.1:3000/v1/messages"]
    assert argv[argv.index("--data-binary") + 1].encode() == stored.request_body
    assert "x-api-key: $ANTHROPIC_API_KEY" in argv
    assert "[redacted]" not in command
