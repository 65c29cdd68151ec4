"""Real Claude Code CLI 2.1.197 traffic (tests/data/claude_code/) links into the trees a person saw,
with the session ids it carries and, for older clients, without them."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from nexus.records import RequestRecord
from tests.conversations.captured import captured_records
from tests.conversations.harness import indexed_links

# index → (class, parent index, branch, conversation index, subtask_of index)
EXPECTED: dict[str, list[tuple[str, int | None, str | None, int | None, int | None]]] = {
    "simple": [("other", None, None, None, None), ("turn", None, "main", 1, None)],
    "tool_loop": [
        ("other", None, None, None, None),
        ("turn", None, "main", 1, None),
        ("turn", 1, "main", 1, None),
    ],
    "subagent": [
        ("other", None, None, None, None),
        ("turn", None, "main", 1, None),
        ("subagent", 1, "task-1", 1, 1),
        ("subagent", 2, "task-1", 1, 1),
        ("turn", 1, "main", 1, None),
    ],
    "continue": [
        ("other", None, None, None, None),
        ("turn", None, "main", 1, None),
        ("other", None, None, None, None),
        ("turn", 1, "main", 1, None),
    ],
    "interactive_compact": [
        ("other", None, None, None, None),
        ("title", None, None, 2, None),
        ("turn", None, "main", 2, None),
        ("turn", 2, "main", 2, None),
        ("turn", 3, "main", 2, None),
        ("turn", 4, "main", 2, None),
        ("compaction", 5, "main", 2, None),
        ("turn", 6, "compact-1", 2, None),
    ],
}


def _without_session(record: RequestRecord) -> RequestRecord:
    """The same request from a client that names no session (and no agent)."""
    ex = record.exchange
    headers = tuple(
        (k, v) for k, v in ex.request_headers if not k.lower().startswith("x-claude-code")
    )
    body = ex.request_body
    if body:
        parsed = orjson.loads(body)
        parsed.pop("metadata", None)
        body = orjson.dumps(parsed)
    exchange = dataclasses.replace(ex, request_headers=headers, request_body=body)
    return dataclasses.replace(record, exchange=exchange, session_id=None, agent_id=None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_captured_cli_session_links_as_lived(store: Any, name: str) -> None:
    assert await indexed_links(store, captured_records(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_captured_cli_session_links_without_session_ids(store: Any, name: str) -> None:
    expected = list(EXPECTED[name])
    if name == "interactive_compact":  # without a session the title call belongs nowhere
        expected[1] = ("title", None, None, None, None)
    records = [_without_session(r) for r in captured_records(name)]
    assert await indexed_links(store, records) == expected
