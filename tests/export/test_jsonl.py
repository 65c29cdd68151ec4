"""jsonl lines carry every field of a record and give the stored bytes back exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.export.jsonl import record_from_line, record_to_line, write_jsonl
from nexus.record_json import detail_json, dumps, exact_bytes, exact_text
from nexus.records import RequestFilter
from tests.export.builders import FAKE_KEY, MemorySource, make_stored, make_summary, scenario

ODD_BODIES = [
    '{"messages":[{"role":"user","content":"naïve café ☕ 你好 🚀"}]}'.encode(),
    b'{"a":1,  "a":2,\n\t"b":"\\u00e9\\ud83d\\ude80","c":1e400,"d":-0.0,"e":12345678901234567890}',
    b'{"lone":"\\ud800","nul":"\\u0000","slash":"\\/"}',
    b"  [1,2,3]  \r\n",
    b"",
    b"not json at all {",
    b"\xff\xfe\x00binary\x80\x81",
    "caf\u00e9".encode("latin-1"),
    b'{"t":"\xed\xa0\x80"}',  # a UTF-8-encoded surrogate: invalid UTF-8, must survive as base64
]


def test_every_odd_body_round_trips_byte_for_byte() -> None:
    for body in ODD_BODIES:
        record = make_stored(request_body=body, response_body=body)
        back = record_from_line(record_to_line(record))
        assert back.request_body == body
        assert back.response_body == body


def test_a_whole_record_round_trips_to_an_equal_record() -> None:
    records, _ = scenario()
    for record in records:
        assert record_from_line(record_to_line(record)) == record


def test_bodies_that_are_not_utf8_are_carried_as_base64() -> None:
    line = orjson.loads(record_to_line(make_stored(request_body=b"\xff\x00\x01")))
    assert line["request"]["body_exact"] == {"base64": "/wAB"}
    utf8 = orjson.loads(record_to_line(make_stored(request_body="é".encode())))
    assert utf8["request"]["body_exact"] == {"text": "é"}


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_any_bytes_round_trip(body: bytes) -> None:
    assert exact_bytes(exact_text(body)) == body
    back = record_from_line(record_to_line(make_stored(request_body=body)))
    assert back.request_body == body


def test_one_line_per_record_with_the_assembled_message_inline() -> None:
    line = record_to_line(make_stored())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    data = orjson.loads(line)
    assert data["response"]["message"]["content"][0]["text"] == "hello"
    assert data["usage"]["cache_read_input_tokens"] == 1000
    assert data["summary"]["cost_usd_micros"] == 12_345
    assert data["links"] == {
        "traffic_class": "turn",
        "conversation_id": "conv-1",
        "parent_request_id": None,
        "branch": "main",
        "subtask_of": None,
        "agent_id": None,
    }


def test_a_line_is_the_records_one_json_shape_the_api_answers() -> None:
    # The same encoder as GET /api/requests/{id}?bodies=exact, plus the format marker.
    record = make_stored()
    line = orjson.loads(record_to_line(record))
    assert line.pop("nexus_export") == 2
    assert line == orjson.loads(dumps(detail_json(record, "exact")))


def test_lines_of_the_first_format_are_still_read() -> None:
    # Written by the first format's encoder: a record, then one with non-UTF-8 bodies.
    path = Path(__file__).resolve().parents[1] / "data" / "export_v1.jsonl"
    first, second = [record_from_line(line) for line in path.read_bytes().splitlines()]
    assert first == make_stored()
    assert second == make_stored(request_body=b"\xff\x00\x01", response_body=b"caf\xe9")


def test_secret_headers_never_leave_even_when_the_store_missed_them() -> None:
    record = dataclasses.replace(
        make_stored(),
        request_headers=(("x-api-key", FAKE_KEY), ("authorization", "Bearer abcdefghijklmnop")),
        response_headers=(("x-note", "key " + FAKE_KEY),),
    )
    line = record_to_line(record)
    assert FAKE_KEY.encode() not in line
    assert b"abcdefghijklmnop" not in line


def test_bodies_are_exact_even_when_they_hold_a_key() -> None:
    body = ('{"k":"' + FAKE_KEY + '"}').encode()
    assert record_from_line(record_to_line(make_stored(request_body=body))).request_body == body


async def test_write_jsonl_streams_every_matching_record_newest_first() -> None:
    records, ids = scenario()
    source = MemorySource(records)
    lines: list[bytes] = []
    count = await write_jsonl(source, RequestFilter(conversation_id="conv-1"), lines.append)
    assert count == len(records) == len(lines)
    started = [orjson.loads(x)["summary"]["started_at_ms"] for x in lines]
    assert started == sorted(started, reverse=True)
    branch: list[bytes] = []
    await write_jsonl(source, RequestFilter(), branch.append, branch="branch-2")
    assert {orjson.loads(x)["id"] for x in branch} == {ids["b1"], ids["b2"]}


async def test_a_record_pruned_between_list_and_fetch_is_skipped() -> None:
    records = [make_stored(make_summary(id=f"{i:032x}", started_at_ms=i)) for i in range(5)]
    source = MemorySource(records)
    real_get = source.get_request

    async def flaky_get(request_id: str):  # type: ignore[no-untyped-def]
        return None if request_id == f"{2:032x}" else await real_get(request_id)

    source.get_request = flaky_get  # type: ignore[method-assign]
    lines: list[bytes] = []
    assert await write_jsonl(source, RequestFilter(), lines.append) == 4


def test_a_line_of_another_format_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="not a nexus export line"):
        record_from_line(b'{"id":"x"}')
