"""Traffic classes by structure and Claude Code's markers; unknown shapes are "other"."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nexus.conversations.classify import classify
from nexus.records import TrafficClass as C
from tests.conversations.captured import captured_records
from tests.conversations.traffic import MAIN_SYSTEM, SUB_SYSTEM, TOOLS

CLI = (("user-agent", "claude-cli/2.1.197 (external, cli)"), ("x-app", "cli"))


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


CASES: list[tuple[str, str, tuple[tuple[str, str], ...], dict[str, Any] | None, C]] = [
    (
        "main turn",
        "/v1/messages",
        CLI,
        {"messages": _user("fix it"), "tools": TOOLS, "system": MAIN_SYSTEM},
        C.TURN,
    ),
    ("plain SDK call", "/v1/messages", (), {"messages": _user("hello"), "max_tokens": 100}, C.TURN),
    ("quota probe", "/v1/messages", CLI, {"messages": _user("quota"), "max_tokens": 1}, C.QUOTA),
    ("count_tokens", "/v1/messages/count_tokens", CLI, {"messages": _user("x")}, C.COUNT_TOKENS),
    ("warmup", "/v1/messages", CLI, {"messages": _user("Warmup"), "tools": TOOLS}, C.WARMUP),
    (
        "sub-agent by header",
        "/v1/messages",
        CLI + (("x-claude-code-agent-id", "a1"),),
        {"messages": _user("look"), "tools": TOOLS},
        C.SUBAGENT,
    ),
    (
        "sub-agent by system prompt",
        "/v1/messages",
        CLI,
        {"messages": _user("look"), "tools": TOOLS, "system": SUB_SYSTEM},
        C.SUBAGENT,
    ),
    (
        "title by schema",
        "/v1/messages",
        CLI,
        {
            "messages": _user("<session>fix it</session>"),
            "tools": [],
            "output_config": {
                "format": {
                    "type": "json_schema",
                    "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                }
            },
        },
        C.TITLE,
    ),
    (
        "old title",
        "/v1/messages",
        CLI,
        {"messages": _user("Please write a 5-10 word title the following conversation: ...")},
        C.TITLE,
    ),
    (
        "old session summary",
        "/v1/messages",
        CLI,
        {
            "messages": _user("Please write a 5-10 word title the following conversation: ..."),
            "system": [
                {
                    "type": "text",
                    "text": "Summarize this coding conversation in under 50 characters.",
                }
            ],
        },
        C.SUMMARY,
    ),
    (
        "topic detector",
        "/v1/messages",
        CLI,
        {
            "messages": _user("add auth"),
            "system": "Analyze if this message indicates a new conversation topic. Format your "
            "response as a JSON object with two fields: 'isNewTopic' (boolean) and 'title'",
        },
        C.TOPIC,
    ),
    (
        "prompt suggestion",
        "/v1/messages",
        CLI,
        {
            "messages": _user("history..."),
            "system": "Suggest the next prompt the user is likely to type.",
        },
        C.SUGGESTION,
    ),
    (
        "compaction by prompt",
        "/v1/messages",
        CLI,
        {
            "messages": _user(
                "Your task is to create a detailed summary of the conversation so far"
            ),
            "tools": TOOLS,
        },
        C.COMPACTION,
    ),
    (
        "compaction by helper header",
        "/v1/messages",
        CLI + (("x-stainless-helper", "compaction"),),
        {"messages": _user("go"), "tools": TOOLS},
        C.COMPACTION,
    ),
    (
        "unknown Claude Code helper",
        "/v1/messages",
        CLI,
        {"messages": _user("Extract the command prefix"), "system": MAIN_SYSTEM},
        C.OTHER,
    ),
    ("models list", "/v1/models", CLI, None, C.OTHER),
    ("GET messages", "/v1/messages", CLI, {"messages": _user("x")}, C.OTHER),
    ("malformed body", "/v1/messages", CLI, None, C.OTHER),
    ("no messages", "/v1/messages", CLI, {"model": "x"}, C.OTHER),
]


@pytest.mark.parametrize("name,path,headers,body,expected", CASES, ids=[c[0] for c in CASES])
def test_classify(
    name: str,
    path: str,
    headers: tuple[tuple[str, str], ...],
    body: dict[str, Any] | None,
    expected: C,
) -> None:
    method = "GET" if name == "GET messages" else "POST"
    assert classify(method, path, headers, body) is expected


def test_captured_interactive_session_classes() -> None:
    records = captured_records("interactive_compact")
    classes = [
        classify(
            r.exchange.method,
            r.exchange.path,
            r.exchange.request_headers,
            orjson.loads(r.exchange.request_body) if r.exchange.request_body else None,
        )
        for r in records
    ]
    assert classes == [C.OTHER, C.TITLE, C.TURN, C.TURN, C.TURN, C.TURN, C.COMPACTION, C.TURN]
