from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.recorder.sse import Assembled, SseAssembler, assemble_json, assemble_sse
from nexus.records import Usage
from tests.fakes.upstream import Reply, ToolUse, encode_json, encode_stream

CAPTURES = Path(__file__).parent.parent / "data" / "claude_code"


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def message_start(usage: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-8",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 1},
    }
    return event("message_start", {"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def delta(index: int, body: dict[str, Any]) -> bytes:
    return event(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": body}
    )


def block_stop(index: int) -> bytes:
    return event("content_block_stop", {"type": "content_block_stop", "index": index})


def message_delta(stop_reason: str = "end_turn", usage: dict[str, Any] | None = None) -> bytes:
    return event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": usage or {"output_tokens": 5},
        },
    )


MESSAGE_STOP = event("message_stop", {"type": "message_stop"})
PING = event("ping", {"type": "ping"})

# A stream with every block kind, multi-byte text, and a tool input split mid-escape.
FULL_STREAM = b"".join(
    [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        PING,
        delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(0, {"type": "thinking_delta", "thinking": "think."}),
        delta(0, {"type": "signature_delta", "signature": "EqQBCkYIBxgCKkB=="}),
        block_stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "opaque"}),
        block_stop(1),
        block_start(2, {"type": "text", "text": ""}),
        delta(2, {"type": "text_delta", "text": "Héllo "}),
        delta(2, {"type": "text_delta", "text": "wörld 🌍"}),
        block_stop(2),
        block_start(3, {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}),
        delta(3, {"type": "input_json_delta", "partial_json": ""}),
        delta(3, {"type": "input_json_delta", "partial_json": '{"command": "ec'}),
        delta(3, {"type": "input_json_delta", "partial_json": 'ho \\"hi\\""}'}),
        block_stop(3),
        message_delta("tool_use", {"output_tokens": 42}),
        MESSAGE_STOP,
    ]
)


def content(assembled: Assembled) -> list[dict[str, Any]]:
    assert assembled.message is not None
    blocks: list[dict[str, Any]] = orjson.loads(assembled.message)["content"]
    return blocks


def test_full_stream_assembles_to_the_non_streaming_shape() -> None:
    result = assemble_sse(FULL_STREAM)

    assert result.is_complete
    assert result.model == "claude-opus-4-8"
    assert result.stop_reason == "tool_use"
    assert content(result) == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIBxgCKkB=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Héllo wörld 🌍"},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": 'echo "hi"'}},
    ]
    message = orjson.loads(result.message or b"")
    assert message["id"] == "msg_1" and message["role"] == "assistant"
    assert message["stop_sequence"] is None
    assert message["usage"]["output_tokens"] == 42
    assert result.text == "Héllo wörld 🌍"
    assert result.tool_uses == (("toolu_1", "Bash", b'{"command":"echo \\"hi\\""}'),)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(FULL_STREAM)), max_size=40))
def test_any_split_of_a_stream_gives_the_same_result(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(FULL_STREAM)]
    assembler = SseAssembler()
    for start, end in zip(bounds, bounds[1:], strict=False):
        assembler.feed(FULL_STREAM[start:end])

    assert assembler.finish() == assemble_sse(FULL_STREAM)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=7))
def test_crlf_streams_split_anywhere_assemble_like_lf_streams(size: int) -> None:
    crlf = FULL_STREAM.replace(b"\n", b"\r\n")
    assembler = SseAssembler()
    for i in range(0, len(crlf), size):
        assembler.feed(crlf[i : i + size])

    assert assembler.finish() == assemble_sse(FULL_STREAM)


def test_cache_creation_split_and_message_delta_overrides() -> None:
    start_usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 7,
        "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60},
        "output_tokens": 1,
    }
    final_usage = {"output_tokens": 9, "cache_read_input_tokens": 8, "input_tokens": None}
    stream = b"".join(
        [
            message_start(start_usage),
            block_start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "x"}),
            block_stop(0),
            message_delta("end_turn", final_usage),
            MESSAGE_STOP,
        ]
    )

    assert assemble_sse(stream).usage == Usage(
        input_tokens=3,
        output_tokens=9,
        cache_creation_input_tokens=100,
        cache_creation_5m_tokens=40,
        cache_creation_1h_tokens=60,
        cache_read_input_tokens=8,
    )


def test_cache_writes_without_a_split_count_as_five_minute_writes() -> None:
    stream = message_start({"input_tokens": 1, "cache_creation_input_tokens": 50}) + MESSAGE_STOP

    usage = assemble_sse(stream).usage
    assert (usage.cache_creation_5m_tokens, usage.cache_creation_1h_tokens) == (50, 0)


def test_error_event_mid_stream_is_reported_with_the_partial_message() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    stream = b"".join(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "partial"}),
            event("error", error),
        ]
    )

    result = assemble_sse(stream)
    assert (result.error_type, result.error_message) == ("overloaded_error", "Overloaded")
    assert not result.is_complete
    assert result.text == "partial"


def test_truncated_stream_gives_a_partial_message_that_is_not_complete() -> None:
    cut = FULL_STREAM.index(b'"partial_json": "ho')  # inside the last tool input delta

    result = assemble_sse(FULL_STREAM[:cut])

    assert not result.is_complete
    assert result.stop_reason is None
    blocks = content(result)
    assert blocks[2]["text"] == "Héllo wörld 🌍"
    assert blocks[3]["input"] == '{"command": "ec'  # the raw partial, as it does not parse
    assert result.tool_uses == (("toolu_1", "Bash", b'{"command": "ec'),)


def test_malformed_lines_and_unknown_events_are_skipped() -> None:
    stream = b"".join(
        [
            message_start(),
            b'event: mystery\ndata: {"type": "mystery", "x": 1}\n\n',
            b": a comment line\n\n",
            b"event: content_block_delta\ndata: {not json\n\n",
            b"data: [1, 2]\n\n",
            b'data: {"type":"content_block_delta"},{"type":"message_stop"}\n\n',
            block_start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "ok"}),
            delta(7, {"type": "text_delta", "text": "no such block"}),
            delta(0, {"type": "brand_new_delta", "stuff": 1}),
            block_stop(0),
        ]
    )

    result = assemble_sse(stream)
    assert result.text == "ok"
    assert not result.is_complete  # the line that only parses inside an array did not count


def test_a_line_that_only_parses_joined_to_its_neighbours_is_skipped() -> None:
    stream = message_start() + b'data: {"type":"ping"},{"type":"message_stop"}\n\n'

    result = assemble_sse(stream)
    assert result.message is not None and not result.is_complete


def test_empty_and_garbage_input_never_raise() -> None:
    assert assemble_sse(b"") == Assembled()
    assert assemble_sse(b"\xff\xfe garbage \n\n\n data: x") == Assembled()
    assert assemble_json(b"") == Assembled()
    assert assemble_json(b"[1, 2]") == Assembled()


def test_non_streaming_body_assembles_like_the_stream() -> None:
    reply = Reply(
        text="done",
        thinking="hmm",
        tool_uses=(ToolUse("Read", {"file_path": "/x"}, id="toolu_9"),),
        usage=Usage(1, 2, 0, 3, 4, 5),
    )
    from_json = assemble_json(encode_json(reply, "claude-x", 1))
    from_stream = assemble_sse(b"".join(encode_stream(reply, "claude-x", 1)))

    assert from_json.is_complete and from_stream.is_complete
    assert content(from_json) == content(from_stream)
    assert from_json.usage == from_stream.usage == Usage(1, 2, 7, 3, 4, 5)
    assert (
        from_json.tool_uses
        == from_stream.tool_uses
        == (("toolu_9", "Read", b'{"file_path":"/x"}'),)
    )
    assert (from_json.stop_reason, from_json.model, from_json.text) == (
        "tool_use",
        "claude-x",
        "done",
    )


def test_error_body_gives_error_type_and_message_only() -> None:
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'

    result = assemble_json(body)

    assert (result.error_type, result.error_message) == ("rate_limit_error", "slow down")
    assert result.message is None and not result.is_complete


def test_every_captured_claude_code_stream_assembles_complete() -> None:
    streams = 0
    for path in sorted(CAPTURES.glob("*.json")):
        for exchange in json.loads(path.read_text())["exchanges"]:
            response = exchange["response"]
            if not response["body"].startswith("event:"):
                continue
            streams += 1
            result = assemble_sse(response["body"].encode())
            assert result.is_complete and result.message is not None, path.name
            assert result.stop_reason in ("end_turn", "tool_use")
            assert result.text or result.tool_uses
    assert streams >= 8


def test_a_one_megabyte_stream_assembles_in_a_few_milliseconds() -> None:
    events = [message_start(), block_start(0, {"type": "text", "text": ""})]
    size = 0
    while size < 1_000_000:
        piece = delta(0, {"type": "text_delta", "text": f"token {len(events)} "})
        events.append(piece)
        size += len(piece)
    stream = b"".join([*events, block_stop(0), message_delta(), MESSAGE_STOP])

    best = min(_timed(lambda: assemble_sse(stream)) for _ in range(5))

    # About 6 ms here for ~9 000 tiny deltas; the bound leaves room for a busy shared machine.
    assert best < 0.05, f"{best * 1000:.1f} ms"


def _timed(work: Any) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start
