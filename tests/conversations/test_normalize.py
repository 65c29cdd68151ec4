"""Normalised fingerprints: what must and must not change a conversation's prefix keys."""

from __future__ import annotations

from typing import Any

from nexus.conversations.normalize import fingerprint, parse_json, text_key

REMINDER = {"type": "text", "text": "<system-reminder>today is Tuesday</system-reminder>"}


def _fp(
    messages: list[dict[str, Any]], reply: list[dict[str, Any]] | None = None, **kw: Any
) -> Any:
    response = {"role": "assistant", "content": reply} if reply is not None else None
    return fingerprint({"messages": messages}, response, **kw)


def test_string_and_list_content_give_the_same_keys() -> None:
    as_string = _fp([{"role": "user", "content": "hello"}])
    as_list = _fp([{"role": "user", "content": [{"type": "text", "text": "hello"}]}])
    assert as_string.prefix_keys == as_list.prefix_keys


def test_system_reminders_cache_control_and_system_messages_are_ignored() -> None:
    plain = _fp([{"role": "user", "content": "fix it"}, {"role": "assistant", "content": "ok"}])
    noisy = _fp(
        [
            {
                "role": "user",
                "content": [
                    REMINDER,
                    {"type": "text", "text": "fix it", "cache_control": {"type": "ephemeral"}},
                ],
            },
            {"role": "system", "content": "Available agent types for the Agent tool: ..."},
            {"role": "assistant", "content": [{"type": "text", "text": "ok\n"}]},
        ]
    )
    assert plain.prefix_keys == noisy.prefix_keys


def test_thinking_blocks_do_not_count() -> None:
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "abc"}
    with_thinking = _fp(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "a"}]},
        ]
    )
    without = _fp([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    assert with_thinking.prefix_keys == without.prefix_keys


def test_repeated_tool_ids_are_dropped() -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"}
    once = _fp(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [result]},
        ]
    )
    twice = _fp(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [use, use]},
            {"role": "user", "content": [result, result]},
        ]
    )
    assert once.prefix_keys == twice.prefix_keys


def test_response_extends_the_chain_to_the_next_turns_prefix() -> None:
    first = _fp([{"role": "user", "content": "hi"}], [{"type": "text", "text": "Hello!"}])
    second = _fp(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "thanks"},
        ]
    )
    assert first.continuation_key == second.prefix_keys[1]
    assert first.request_key == second.prefix_keys[0]


def test_different_messages_give_different_keys() -> None:
    assert (
        _fp([{"role": "user", "content": "a"}]).prefix_keys
        != _fp([{"role": "user", "content": "b"}]).prefix_keys
    )


def test_empty_reply_gives_no_continuation_key() -> None:
    assert _fp([{"role": "user", "content": "hi"}], []).continuation_key is None


def test_agent_tool_uses_are_found_with_their_prompts() -> None:
    call = {
        "type": "tool_use",
        "id": "toolu_9",
        "name": "Agent",
        "input": {"description": "d", "prompt": "  Find the config.  ", "subagent_type": "Explore"},
    }
    old = {"type": "tool_use", "id": "toolu_8", "name": "Task", "input": {"prompt": "Run it"}}
    fp = _fp([{"role": "user", "content": "go"}], [call, old])
    assert [(c.tool_use_id, c.prompt_key) for c in fp.agent_calls] == [
        ("toolu_9", text_key("Find the config.")),
        ("toolu_8", text_key("Run it")),
    ]
    sub = _fp(
        [{"role": "user", "content": [REMINDER, {"type": "text", "text": "Find the config."}]}]
    )
    assert text_key("Find the config.") in sub.first_user_keys


def test_compaction_marker_and_summary_lines_meet() -> None:
    summary = (
        "1. Primary Request: the user wants the parser fixed\n2. Files: src/parse.py was edited"
    )
    call = _fp(
        [{"role": "user", "content": "summarise"}],
        [{"type": "text", "text": f"<analysis>x</analysis>\n<summary>\n{summary}\n</summary>"}],
        is_compaction=True,
    )
    after = _fp(
        [
            {
                "role": "user",
                "content": [
                    REMINDER,
                    {
                        "type": "text",
                        "text": "This session is being continued from a previous conversation "
                        "that ran out of context. The summary below covers the earlier portion "
                        f"of the conversation.\n\nSummary:\n{summary}",
                    },
                ],
            }
        ]
    )
    assert after.marker_index == 1
    assert set(call.summary_line_keys) <= set(after.marker_line_keys)
    assert call.summary_line_keys


def test_compaction_prompt_merged_into_last_user_message_is_left_out() -> None:
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    turn = _fp(history)
    merged = history[:-1] + [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "three"},
                {
                    "type": "text",
                    "text": "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.\n\n"
                    "Your task is to create a detailed summary of the conversation so far",
                },
            ],
        }
    ]
    assert _fp(merged, is_compaction=True).prefix_keys == turn.prefix_keys


def test_parse_json_refuses_what_is_not_an_object() -> None:
    assert parse_json(b"") is None
    assert parse_json(b"[1]") is None
    assert parse_json(b"{not json") is None
    assert parse_json(b'{"a": 1}') == {"a": 1}
