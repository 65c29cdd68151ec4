"""The recorder's parse with remembered ``tools`` and ``system`` values (``wire.ValueMemory``) is
the parse of the whole body, wherever the remembered bytes turn up, and reuses them where it can."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.wire import ValueMemory

TOOLS = [
    {"name": f"Tool{i}", "description": "reads a file " * 20, "input_schema": {"type": "object"}}
    for i in range(12)
]
SYSTEM = [{"type": "text", "text": "You are Claude Code. " * 150}]


def body(**fields: Any) -> bytes:
    return orjson.dumps(fields)


def test_a_repeated_tools_and_system_are_parsed_once_and_the_parse_is_the_whole_one() -> None:
    memory = ValueMemory()
    first = memory.parse(body(model="m", system=SYSTEM, tools=TOOLS, messages=[{"role": "user"}]))
    raw = body(model="m", system=SYSTEM, tools=TOOLS, messages=[{"role": "user", "content": "hi"}])
    second = memory.parse(raw)
    assert second == orjson.loads(raw)
    assert list(second) == list(orjson.loads(raw))  # key order too
    assert first is not None
    assert second["tools"] is first["tools"] and second["system"] is first["system"]


def test_the_system_prompts_of_ten_live_sessions_are_each_parsed_once() -> None:
    """The long prompt carries each session's environment: ten sessions in turn, ten values."""
    memory = ValueMemory()
    systems = [[{"type": "text", "text": f"cwd /work/p{n} " + "You are Claude Code. " * 150}]
               for n in range(10)]  # fmt: skip
    first = [memory.parse(body(system=s, tools=TOOLS)) for s in systems]
    for turn in range(3):
        for n, system in enumerate(systems):
            raw = body(system=system, tools=TOOLS, messages=[turn])
            again = memory.parse(raw)
            assert again == orjson.loads(raw)
            assert again is not None and again["system"] is first[n]["system"]  # type: ignore[index]


def test_remembered_bytes_under_a_nested_key_are_not_taken_for_the_top_level_value() -> None:
    memory = ValueMemory()
    memory.parse(body(tools=TOOLS, system=SYSTEM))
    # the same bytes as a tool call's input, and a top-level "tools" that is something else
    nested = {"role": "assistant", "content": [{"type": "tool_use", "input": {"tools": TOOLS}}]}
    for raw in (
        body(messages=[nested], tools=0),
        body(messages=[nested]),
        body(messages=[nested], tools=[]),
        body(system={"system": SYSTEM}, tools="x"),
    ):
        assert memory.parse(raw) == orjson.loads(raw)


def test_a_body_that_is_not_json_or_not_an_object_parses_to_none() -> None:
    memory = ValueMemory()
    memory.parse(body(tools=TOOLS))
    assert memory.parse(b'{"tools":' + orjson.dumps(TOOLS) + b",") is None
    assert memory.parse(b'["tools":' + orjson.dumps(TOOLS) + b"]") is None
    assert memory.parse(b"[1, 2]") is None


keys = st.sampled_from(["tools", "system", "messages", "model", "other"])
values = st.sampled_from([TOOLS, SYSTEM, [], 0, "tools", {"tools": TOOLS}, [{"system": SYSTEM}]])


@settings(max_examples=300, deadline=None)
@given(
    seen=st.lists(st.dictionaries(keys, values, max_size=5), max_size=3),
    fields=st.lists(st.tuples(keys, values), max_size=6),
    spaced=st.booleans(),
)
def test_any_body_parses_as_a_whole_parse_does(
    seen: list[dict[str, Any]], fields: list[tuple[str, Any]], spaced: bool
) -> None:
    memory = ValueMemory()
    for earlier in seen:
        memory.parse(orjson.dumps(earlier))
    # duplicate keys on purpose: the last one wins, as in the whole parse
    members = [orjson.dumps(k) + (b": " if spaced else b":") + orjson.dumps(v) for k, v in fields]
    raw = b"{" + b",".join(members) + b"}"
    assert memory.parse(raw) == orjson.loads(raw)
