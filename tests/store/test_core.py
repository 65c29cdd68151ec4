"""The core store contract, on SQLite and Postgres alike."""

from __future__ import annotations

import orjson
import pytest

from nexus.records import Link, Outcome, RequestFilter, TrafficClass, Usage, new_id
from tests.factories import make_record

T0 = 1_790_000_000_000


async def test_a_written_record_reads_back_whole(store):
    body = b'{"model":"claude-opus-4-8","messages":[{"role":"user","content":"caf\\u00e9 \xc3\xa9"}],"stream":true}'
    record = make_record(request_body=body, usage=Usage(10, 20, 30, 25, 5, 40))
    await store.write_batch([record])
    got = await store.get_request(record.id)
    assert got is not None
    assert got.request_body == body
    assert got.response_body == record.exchange.response_body
    assert got.response_message == record.response_message
    assert got.request_headers == record.exchange.request_headers
    assert got.ratelimit == record.ratelimit
    assert got.summary.usage == Usage(10, 20, 30, 25, 5, 40)
    assert got.summary.upstream_request_id == record.exchange.response_header("request-id")
    assert got.summary.outcome is Outcome.COMPLETE


async def test_writing_the_same_record_twice_keeps_one_row(store):
    record = make_record()
    await store.write_batch([record])
    await store.write_batch([record, make_record()])
    assert await store.count_requests(RequestFilter()) == 2


async def test_unknown_request_is_none(store):
    assert await store.get_request(new_id()) is None


async def test_pages_are_newest_first_and_stable_while_new_records_arrive(store):
    records = [make_record(started_at_ms=T0 + i * 1000) for i in range(25)]
    await store.write_batch(records)
    first = await store.list_requests(RequestFilter(), None, 10)
    assert [s.id for s in first.items] == [r.id for r in reversed(records)][:10]
    await store.write_batch([make_record(started_at_ms=T0 + 99_000)])
    second = await store.list_requests(RequestFilter(), first.next_cursor, 10)
    third = await store.list_requests(RequestFilter(), second.next_cursor, 10)
    seen = [s.id for s in first.items + second.items + third.items]
    assert seen == [r.id for r in reversed(records)]
    assert third.next_cursor is None


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RequestFilter(model="sonnet"), {"b"}),
        (RequestFilter(model="SONNET"), {"b"}),  # case never matters, on either dialect
        (RequestFilter(status="5xx"), {"c"}),
        (RequestFilter(status="429"), {"d"}),
        (RequestFilter(status="error"), {"c", "d", "e"}),
        (RequestFilter(host="team.example"), {"b"}),
        (RequestFilter(account_id="acct-1"), {"a", "b"}),
        (RequestFilter(session_id="s-2"), {"c"}),
        (RequestFilter(since_ms=T0 + 2000, until_ms=T0 + 4000), {"c", "d"}),
        (RequestFilter(traffic_class="subagent"), {"e"}),
        (RequestFilter(conversation_id="conv-1"), {"a", "e"}),
        (RequestFilter(model="opus", status="2xx"), {"a"}),
    ],
)
async def test_filters_return_exactly_the_matching_records(store, flt, expected):
    specs = {
        "a": dict(model="claude-opus-4-8", account_id="acct-1", session_id="s-1"),
        "b": dict(model="claude-sonnet-4-5", host="team.example", account_id="acct-1"),
        "c": dict(status=500, session_id="s-2"),
        "d": dict(status=429),
        "e": dict(status=None, outcome=Outcome.UPSTREAM_UNREACHABLE),
    }
    ids = {}
    for i, (name, spec) in enumerate(specs.items()):
        record = make_record(started_at_ms=T0 + i * 1000, **spec)
        ids[record.id] = name
        await store.write_batch([record])
    by_name = {v: k for k, v in ids.items()}
    await store.write_links(
        [
            Link(by_name["a"], TrafficClass.TURN, "conv-1", None, "main"),
            Link(by_name["e"], TrafficClass.SUBAGENT, "conv-1", by_name["a"], "task-1"),
        ]
    )
    page = await store.list_requests(flt, None, 100)
    assert {ids[s.id] for s in page.items} == expected
    assert await store.count_requests(flt) == len(expected)


async def test_a_link_is_replaced_not_duplicated(store):
    record = make_record()
    await store.write_batch([record])
    await store.write_links([Link(record.id, TrafficClass.TURN, "c1", None, "main")])
    await store.write_links([Link(record.id, TrafficClass.COMPACTION, "c2", None, "compact-1")])
    (summary,) = (await store.list_requests(RequestFilter(), None, 10)).items
    assert (summary.traffic_class, summary.conversation_id, summary.branch) == (
        TrafficClass.COMPACTION,
        "c2",
        "compact-1",
    )


async def test_a_conversation_stores_each_message_once(store):
    history: list[dict] = []
    received = 0
    for turn in range(40):
        history.append({"role": "user", "content": f"question {turn} " + "q" * 2000})
        record = make_record(history=list(history[:-1]), user_text=history[-1]["content"])
        received += len(record.exchange.request_body)
        await store.write_batch([record])
        history.append({"role": "assistant", "content": f"answer {turn} " + "a" * 2000})
    stats = await store.stats()
    assert stats.requests == 40
    # Whole bodies add up to ~13x the unique content here (40 turns); each message is stored once.
    assert received > 10 * stats.unique_content_bytes
    got = await store.get_request((await store.list_requests(RequestFilter(), None, 1)).items[0].id)
    assert orjson.loads(got.request_body)["messages"][0]["content"].startswith("question 0")


async def test_prune_deletes_old_records_and_content_only_they_used(store):
    old = make_record(started_at_ms=T0, user_text="old only " * 100)
    new = make_record(started_at_ms=T0 + 10_000_000, user_text="new only " * 100)
    await store.write_batch([old, new])
    before = await store.stats()
    assert await store.prune(T0 + 1000) == 1
    after = await store.stats()
    assert after.requests == 1
    assert after.blobs < before.blobs
    assert await store.get_request(old.id) is None
    assert (await store.get_request(new.id)).request_body == new.exchange.request_body
    assert [e.ref_id for e in await store.events_after(0)] == [new.id]
