"""Detection and causes on prints of synthetic bodies (no store): the edge cases the scripted
conversations of test_ledger.py do not reach."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from nexus.cache.detect import detect, expect
from nexus.cache.explain import describe, find_cause
from nexus.cache.prompt import PromptPrint, print_prompt
from nexus.records import CacheCause, Usage
from nexus.wire import parse_request
from tests.cache.conversation import TOOLS, system, user, with_breakpoint


def body(messages: list[Any], **fields: Any) -> dict[str, Any]:
    out = {"model": "claude-opus-4-8", "tools": TOOLS, "system": system(),
           "messages": with_breakpoint(messages)}  # fmt: skip
    out.update(fields)
    return out


def pprint(value: dict[str, Any], *, read: int, write: int, at_ms: int = 0) -> PromptPrint:
    usage = Usage(3, 5, write, write, 0, read)
    parsed = parse_request(orjson.dumps(value))
    return print_prompt("id", parsed, started_at_ms=at_ms, ended_at_ms=at_ms + 1000, usage=usage)


def history(turns: int) -> list[Any]:
    messages: list[Any] = []
    for n in range(turns):
        messages += [user(f"question {n}"), {"role": "assistant", "content": [
            {"type": "text", "text": f"answer {n}"}]}]  # fmt: skip
    return messages


def cause_of(p_body: dict[str, Any], r_body: dict[str, Any], read: int = 0) -> tuple[Any, str]:
    p = pprint(p_body, read=9_000, write=1_000)
    r = pprint(r_body, read=read, write=10_000, at_ms=20_000)
    miss = detect(p, r)
    assert miss is not None
    finding = find_cause(p, r, miss)
    return finding.cause, describe(finding, p_body, r_body)


def test_a_shortfall_within_the_tolerance_is_not_a_break() -> None:
    p_body = body(history(3))
    r_body = body(history(4))
    p = pprint(p_body, read=9_000, write=1_000)
    assert detect(p, pprint(r_body, read=9_800, write=300)) is None  # 200 short: under 256
    miss = detect(p, pprint(r_body, read=9_700, write=300))
    assert miss is not None and miss.missed_tokens == 300


def test_a_request_without_caching_before_it_cannot_break() -> None:
    p = pprint(body(history(3)), read=0, write=0)
    assert detect(p, pprint(body(history(4)), read=0, write=0)) is None


def test_a_shorter_request_expects_the_last_breakpoint_it_reaches_scaled_by_bytes() -> None:
    p = pprint(body(history(6)), read=9_000, write=1_000)
    r = pprint(body(history(1)), read=0, write=10_000)  # rewound to the first turn
    expected = expect(p, r)
    assert expected.end == 4  # the tools, then the prompt block's breakpoint (system block 3)
    assert expected.tokens == 10_000 * p.prefix_bytes(4) // p.prefix_bytes(len(p.segments))


def test_reordered_and_edited_tools_are_named() -> None:
    reordered = body(history(3), tools=[TOOLS[1], TOOLS[0], *TOOLS[2:]])
    assert cause_of(body(history(2)), reordered) == (CacheCause.TOOLS_CHANGED, "tools reordered")
    edited_tool = {**TOOLS[2], "description": "Edit files, carefully."}
    edited = body(history(3), tools=[*TOOLS[:2], edited_tool, TOOLS[3]])
    assert cause_of(body(history(2)), edited) == (
        CacheCause.TOOLS_CHANGED,
        "tools: schema edited: Edit",
    )
    removed = body(history(3), tools=TOOLS[:3])
    assert cause_of(body(history(2)), removed) == (CacheCause.TOOLS_CHANGED, "tools removed Agent")


def test_a_breakpoint_beyond_the_look_back_window_is_breakpoints_moved() -> None:
    p_body = body(history(2))
    messages = history(2) + [user("run them all")]
    messages.append({"role": "assistant", "content": [
        {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"arg": str(n)}}
        for n in range(12)]})  # fmt: skip
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": f"t{n}", "content": "ok"} for n in range(12)]})  # fmt: skip
    cause, detail = cause_of(p_body, body(messages), read=4_000)
    assert cause == CacheCause.BREAKPOINTS_MOVED
    assert "25 content blocks after the cached prefix" in detail


def test_removed_inserted_and_rewritten_messages() -> None:
    p_body = body(history(3))
    fewer = history(3)
    del fewer[1]
    cause, detail = cause_of(p_body, body([*fewer, user("next")]))
    assert (cause, detail) == (CacheCause.HISTORY_EDITED, "message 2 (assistant) removed")
    more = history(3)
    more.insert(1, user("an aside"))
    cause, detail = cause_of(p_body, body([*more, user("next")]))
    assert (cause, detail) == (CacheCause.HISTORY_EDITED, "message 2 (user) inserted")
    cleared = copy.deepcopy(history(3))
    cleared[3]["content"][0]["text"] = "[Old tool result content cleared]"
    cause, detail = cause_of(p_body, body([*cleared, user("next")]))
    assert cause == CacheCause.HISTORY_EDITED
    assert (
        detail
        == 'message 4 (assistant) rewritten: "answer 1" → "[Old tool result content cleared]"'
    )


def test_the_order_of_causes_puts_the_model_before_everything_else() -> None:
    other = body(history(3), model="claude-sonnet-4-6", tools=TOOLS[:2])
    cause, _ = cause_of(body(history(2)), other)
    assert cause == CacheCause.MODEL_CHANGED
    slow = pprint(body(history(3), tools=TOOLS[:2]), read=0, write=10_000, at_ms=400_000)
    p = pprint(body(history(2)), read=9_000, write=1_000)
    miss = detect(p, slow)
    assert miss is not None and find_cause(p, slow, miss).cause == CacheCause.TTL_EXPIRED
