"""A request as the cache ledger prints it: what counts as the same prompt."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.cache.detect import detect, needs_sizes
from nexus.cache.prompt import PromptOutline, PromptPrint, outline_prompt, print_prompt
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


# -- outlines: what detection reads, without hashing --------------------------------------------

control = st.sampled_from(
    [{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, {"type": "ephemeral", "ttl": "5m"}]
)
maybe_control = st.one_of(st.none(), st.none(), control)
marked_block = st.builds(
    lambda t, c: {"type": "text", "text": t, **({"cache_control": c} if c else {})},
    st.sampled_from(["hi", '"cache_control"', "ok"]),
    maybe_control,
)
marked_message = st.builds(
    lambda role, content, c: {
        "role": role,
        "content": content,
        **({"cache_control": c} if c else {}),
    },  # fmt: skip
    st.sampled_from(["user", "assistant"]),
    st.one_of(st.lists(marked_block, max_size=3), st.sampled_from(["hi", "x"])),
    st.one_of(st.none(), st.none(), st.none(), control),
)
tool = st.builds(
    lambda name, c, nested: {
        "name": name,
        "input_schema": {"properties": {"cache_control": {}} if nested else {}},
        **({"cache_control": c} if c else {}),
    },
    st.sampled_from(["Read", "Bash", "Edit"]),
    st.one_of(st.none(), st.none(), st.none(), control),
    st.booleans(),
)
prompt_body = st.fixed_dictionaries(
    {"messages": st.lists(marked_message, max_size=6)},
    optional={
        "tools": st.lists(tool, max_size=3),
        "system": st.one_of(st.just("You are Claude Code."), st.lists(marked_block, max_size=3)),
    },
)


@settings(max_examples=300, deadline=None)
@given(prompt_body)
def test_an_outline_is_what_the_print_says_of_segments_and_breakpoints(
    body: dict[str, Any],
) -> None:
    parsed = parse_request(orjson.dumps({"model": "claude-opus-4-8", **body}))
    usage = Usage(cache_read_input_tokens=10, cache_creation_input_tokens=5)
    printed = print_prompt("r", parsed, started_at_ms=3, ended_at_ms=9, usage=usage)
    outlined = outline_prompt("r", parsed, started_at_ms=3, ended_at_ms=9, usage=usage)
    assert outlined == printed.outline
    assert outlined.breakpoint_ends == printed.breakpoint_ends
    assert outlined.segment_count == len(printed.segments)
    for end in printed.breakpoint_ends:
        assert outlined.ttl_at(end) == printed.ttl_at(end)


@settings(max_examples=300, deadline=None)
@given(prompt_body, prompt_body, st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 3000))
def test_detection_on_outlines_is_detection_on_prints(
    p_body: dict[str, Any], r_body: dict[str, Any], p_read: int, p_write: int, r_read: int
) -> None:
    def both(body: dict[str, Any], usage: Usage) -> tuple[PromptPrint, PromptOutline]:
        parsed = parse_request(orjson.dumps({"model": "claude-opus-4-8", **body}))
        return (
            print_prompt("x", parsed, started_at_ms=0, ended_at_ms=1, usage=usage),
            outline_prompt("x", parsed, started_at_ms=0, ended_at_ms=1, usage=usage),
        )

    p_print, p_outline = both(p_body, Usage(cache_read_input_tokens=p_read,
                                            cache_creation_input_tokens=p_write))  # fmt: skip
    r_print, r_outline = both(r_body, Usage(cache_read_input_tokens=r_read))
    sizes = p_print if needs_sizes(p_outline, r_outline) else None
    assert detect(p_outline, r_outline, sizes) == detect(p_print, r_print)
