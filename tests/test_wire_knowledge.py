"""What Nexus knows of Anthropic / Claude Code bodies lives in ``nexus.wire`` and the class enum:
one answer per question, whichever view asks (linker, exports, TUI, analysis, MCP)."""

from __future__ import annotations

import dataclasses

import pytest

from nexus import wire
from nexus.conversations.shape import build_tree, build_view
from nexus.records import BACKGROUND_CLASSES, ConversationTree, TrafficClass
from tests.export.builders import make_summary


def test_background_is_a_property_of_the_class_and_other_is_background() -> None:
    assert {c for c in TrafficClass if c.is_background} == BACKGROUND_CLASSES
    assert TrafficClass.OTHER.is_background and TrafficClass.QUOTA.is_background
    assert not any(
        c.is_background for c in (TrafficClass.TURN, TrafficClass.SUBAGENT, TrafficClass.COMPACTION)
    )


@pytest.mark.parametrize("cls", list(TrafficClass))
def test_the_tui_tree_and_the_export_tree_set_apart_the_same_calls(cls: TrafficClass) -> None:
    turn = make_summary(id="a" * 32, traffic_class=TrafficClass.TURN, started_at_ms=1)
    other = dataclasses.replace(turn, id="b" * 32, traffic_class=cls, started_at_ms=2)
    tree = ConversationTree(summary=None, nodes=[turn, other], branches=[], subtasks=[])  # type: ignore[arg-type]
    tui_hidden = {i.row.id for i in build_tree(tree, with_background=False) if i.row} ^ {
        turn.id,
        other.id,
    }
    export_apart = {s.id for s in build_view("conv", tree.nodes, tree.branches).background}
    assert tui_hidden == export_apart == ({other.id} if cls.is_background else set())


def test_agent_tools_spawn_sub_agents_in_current_and_older_clis() -> None:
    content = [
        {"type": "text", "text": "delegating"},
        {"type": "tool_use", "id": "t1", "name": "Agent", "input": {"prompt": "a"}},
        {"type": "tool_use", "id": "t2", "name": "Task", "input": {"prompt": "b"}},
        {"type": "tool_use", "id": "t3", "name": "Bash", "input": {"command": "ls"}},
    ]
    assert [b["id"] for b in wire.agent_tool_uses(content)] == ["t1", "t2"]
    assert wire.agent_tool_uses("text only") == []


def test_tool_result_text_keeps_texts_and_names_other_blocks() -> None:
    content = [{"type": "text", "text": "ok"}, {"type": "image", "source": {}}, "stray"]
    assert wire.tool_result_text(content) == "ok\n[image]"
    assert wire.tool_result_text(content, " ") == "ok [image]"
    assert wire.tool_result_text("plain") == "plain"
    assert wire.tool_result_text(None) == ""


@pytest.mark.parametrize(
    ("user_id", "session"),
    [
        ('{"device_id":"d","session_id":"s-1"}', "s-1"),
        (
            "user_abc_account__session_0d2f3c1e-1111-2222-3333-444455556666",
            "0d2f3c1e-1111-2222-3333-444455556666",
        ),  # fmt: skip
        ("{not json", None),
        (None, None),
    ],
)
def test_the_session_id_in_metadata(user_id: str | None, session: str | None) -> None:
    assert wire.session_id({"user_id": user_id}) == session


def test_reminders_and_texts() -> None:
    assert wire.is_reminder("  <system-reminder>x</system-reminder>")
    assert not wire.is_reminder("typed <system-reminder>")
    assert wire.text_blocks([{"type": "text", "text": "a"}, {"type": "tool_use"}]) == ["a"]
    assert wire.message_text("plain") == "plain"


def test_content_blocks_type_each_block_once_for_every_view() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    blocks = wire.content_blocks(
        [
            {"type": "text", "text": " <system-reminder>r</system-reminder>"},
            {"type": "thinking", "thinking": "hmm"},
            {"type": "redacted_thinking", "data": "x"},
            {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": "x"}},
            {"type": "tool_result", "tool_use_id": "s1", "content": "found", "is_error": True},
            image,
            {"type": "search_result"},
            "stray",
        ]
    )
    assert [(b.kind, b.type) for b in blocks] == [
        ("text", "text"), ("thinking", "thinking"), ("redacted_thinking", "redacted_thinking"),
        ("tool_use", "server_tool_use"), ("tool_result", "tool_result"), ("image", "image"),
        ("other", "search_result"), ("other", None),
    ]  # fmt: skip
    reminder, thinking, _, call, result, picture, _, stray = blocks
    assert reminder.is_reminder and thinking.text == "hmm" and not thinking.is_reminder
    assert (call.tool_id, call.name, call.input) == ("s1", "web_search", {"q": "x"})
    assert (result.tool_id, result.content, result.is_error) == ("s1", "found", True)
    assert picture.source["media_type"] == "image/png" and picture.raw is image
    assert stray.raw == "stray" and stray.source == {}
    assert [b.text for b in wire.content_blocks("plain")] == ["plain"]
    assert wire.content_blocks(None) == [] and wire.content_blocks({"type": "text"}) == []
    (bare,) = wire.content_blocks([{"type": "tool_use"}])
    assert (bare.tool_id, bare.name) == (None, None)  # absent, not "None": the views pick a word


BILLING = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332;"}
IDENTITY = {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}
SYSTEM_SHAPES: list[tuple[object, list[str]]] = [
    ("Be brief.", ["Be brief."]),
    ([{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}], ["One.", "Two."]),
    (
        [BILLING, IDENTITY, {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}],
        [BILLING["text"], IDENTITY["text"], "Rules."],
    ),
    ([{"type": "text", "text": "A", "cache_control": {"type": "ephemeral", "ttl": "1h"}}], ["A"]),
    ([{"type": "text"}, {"type": "text", "text": 7}, "bare", 3, {"text": "untyped"}], ["", "", "", "", "untyped"]),
    ([], []),
    (None, []),
    (42, []),
    ({"text": "an object, not a list"}, []),
]  # fmt: skip


@pytest.mark.parametrize(("system", "blocks"), SYSTEM_SHAPES)
def test_the_system_prompt_is_read_one_way_whatever_its_shape(
    system: object, blocks: list[str]
) -> None:
    assert wire.system_texts(system) == blocks
    joined = "\n".join(b for b in blocks if b)
    assert wire.system_text(system) == (system if isinstance(system, str) else joined)


@pytest.mark.parametrize(("system", "blocks"), SYSTEM_SHAPES)
def test_every_reader_of_the_system_prompt_agrees(system: object, blocks: list[str]) -> None:
    import orjson

    from nexus.conversations.classify import classify
    from nexus.export.transcript import read_turn
    from nexus.tui.chat import chat_entries
    from nexus.wirecheck.check import _hint
    from tests.export.builders import make_stored

    body = orjson.dumps(
        {"model": "m", "system": system, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert read_turn(make_stored(request_body=body)).system_text == wire.system_text(system, "\n\n")
    shown = [e.text for e in chat_entries(body, None) if e.kind == "system"]
    assert shown == ([wire.system_text(system)] if system else [])
    own = [
        b for b in blocks if b and not b.startswith(("x-anthropic-billing", "You are Claude Code"))
    ]
    hint = _hint(body, "")
    assert (own[0][:20] in hint) if own else hint == "no system prompt or user text"
    # The classifier reads the same text: a compaction system prompt in any shape is found.
    compaction = [
        {
            "type": "text",
            "text": "You are a helpful AI assistant tasked with summarizing conversations.",
        }
    ]
    both = compaction + (system if isinstance(system, list) else [])
    body = {"model": "m", "system": both, "messages": [{"role": "user", "content": "x"}]}
    assert classify("POST", "/v1/messages", (), body) == TrafficClass.COMPACTION


def test_the_proxy_and_the_api_name_an_error_status_alike() -> None:
    # One table (nexus.errors.ERROR_TYPES): the proxy's copy had no 415/501/503, the API's no 413.
    from nexus.errors import error_type

    assert [error_type(s) for s in (400, 401, 403, 404, 405, 413, 415, 501, 503, 418, 500)] == [
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
        "invalid_request_error", "request_too_large", "invalid_request_error",
        "not_implemented_error", "overloaded_error", "api_error", "api_error",
    ]  # fmt: skip
    import nexus.api.app
    import nexus.proxy.app

    assert not hasattr(nexus.api.app, "_ERROR_TYPES") and not hasattr(
        nexus.proxy.app, "_ERROR_TYPES"
    )
