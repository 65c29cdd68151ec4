"""A request as the cache ledger prints it: what counts as the same prompt."""

from __future__ import annotations

from typing import Any

import orjson

from nexus.cache.prompt import PromptPrint, print_prompt
from nexus.records import Usage
from nexus.wire import parse_request

MARK = {"type": "ephemeral"}


def printed(body: dict[str, Any]) -> PromptPrint:
    parsed = parse_request(orjson.dumps({"model": "claude-opus-4-8", **body}))
    return print_prompt("r", parsed, started_at_ms=0, ended_at_ms=1, usage=Usage())


def test_string_content_and_the_same_text_as_one_block_are_one_prompt() -> None:
    """Claude Code 2.1.332 sends a message as one text block while it carries the breakpoint and
    as a plain string on the next turn; the API reads both as the same text block."""
    text = "# Environment\nPrimary working directory: /work"
    marked = printed(
        {
            "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": MARK}],
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "system",
                    "content": [{"type": "text", "text": text, "cache_control": MARK}],
                },
            ],
        }
    )
    plain = printed(
        {
            "system": "You are Claude Code.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "system", "content": text},
            ],
        }
    )
    assert [s.digest for s in marked.segments] == [s.digest for s in plain.segments]
    assert [s.size for s in marked.segments] == [s.size for s in plain.segments]
    assert marked.breakpoint_ends == [1, 3] and plain.breakpoint_ends == []


def test_a_different_text_is_a_different_segment() -> None:
    one = printed({"messages": [{"role": "user", "content": "hi"}]})
    other = printed({"messages": [{"role": "user", "content": [{"type": "text", "text": "ho"}]}]})
    assert one.segments[0].digest != other.segments[0].digest
