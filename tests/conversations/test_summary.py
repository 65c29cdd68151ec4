"""A conversation's title and latest prompt come from what a person typed: a turn that only
carries tool results (its preview is empty) neither blanks the latest prompt nor becomes the
title; a root without a prompt takes the first prompt after it."""

from __future__ import annotations

from dataclasses import replace

from nexus.conversations.summary import add_request, compute
from nexus.records import LinkNode, TrafficClass
from tests.tui import data

CONV = data.rid(1)


def node(n: int, edge: str = "cont") -> LinkNode:
    return LinkNode(data.rid(n), "scope", data.T0 + n * 1000, TrafficClass.TURN, edge,
                    conversation_id=CONV, branch="main")  # fmt: skip


def row(n: int, preview: str):  # type: ignore[no-untyped-def]
    return replace(data.summary(n), started_at_ms=data.T0 + n * 1000, user_preview=preview)


def test_a_tool_result_turn_keeps_the_latest_prompt() -> None:
    rows = [(node(1, "root"), row(1, "fix the otters")), (node(2), row(2, "")),
            (node(3), row(3, "now the beavers")), (node(4), row(4, ""))]  # fmt: skip
    summary = compute(rows)
    assert summary is not None
    assert (summary.title, summary.last_user_preview) == ("fix the otters", "now the beavers")
    assert summary.latest_turn_id == data.rid(4)  # the context gauge still reads the latest turn


def test_a_root_without_a_prompt_takes_the_first_prompt_after_it() -> None:
    rows = [(node(1, "root"), row(1, "")), (node(2), row(2, "")), (node(3), row(3, "hello"))]
    summary = compute(rows)
    assert summary is not None and summary.title == "hello"
    # counted one at a time, a root arriving late still names the conversation
    late = add_request(
        add_request(None, node(3), row(3, "later")), node(1, "root"), row(1, "first")
    )
    assert late.title == "first"
