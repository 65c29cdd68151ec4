"""One filter, three places: ``row_matches(row, f)`` (the TUI's live tail) says a row is in a list
exactly when the store's list filtered by ``f`` holds it, on SQLite and on Postgres, for many
generated filters over rows that differ in every field a filter reads."""

from __future__ import annotations

import random
from dataclasses import fields
from typing import Any

from nexus.filters import describe, parse_query, row_matches
from nexus.records import Link, Outcome, RequestFilter, RequestSummary, TrafficClass
from tests.factories import make_record

T0 = 1_750_000_000_000
WORDS = ("migration", "cache", "fix", "tests", "parser", "deploy", "Rollback", "schema")
MODELS = ("claude-opus-4-8", "claude-sonnet-4-5", "claude-haiku-4-5", "gpt_like%model")
STATUSES: tuple[tuple[int | None, Outcome], ...] = (
    (200, Outcome.COMPLETE),
    (200, Outcome.STREAM_ERROR),  # a 200 that ended in an error event: an error
    (200, Outcome.CLIENT_DISCONNECTED),
    (429, Outcome.COMPLETE),
    (500, Outcome.COMPLETE),
    (529, Outcome.COMPLETE),
    (None, Outcome.UPSTREAM_UNREACHABLE),
    (301, Outcome.COMPLETE),
)
CLASSES = (TrafficClass.TURN, TrafficClass.SUBAGENT, TrafficClass.TITLE)


def _records(rng: random.Random) -> tuple[list[Any], list[Link]]:
    records, links = [], []
    for i in range(48):
        status, outcome = STATUSES[i % len(STATUSES)]
        user = " ".join(rng.sample(WORDS, 2))
        reply = " ".join(rng.sample(WORDS, 2)) + "."
        record = make_record(
            id=f"r{i:03d}",
            started_at_ms=T0 + i * 60_000,
            host=("a.example", "b.example")[i % 2],
            account_id=(None, "acct-1", "acct-2")[i % 3],
            model=MODELS[i % len(MODELS)],
            status=status,
            outcome=outcome,
            session_id=(None, "s1", "s2", "s3")[i % 4],
            user_text=user,
            reply_text=reply,
        )
        records.append(record)
        if i % 5:  # every fifth request is not linked (yet): no class, no conversation
            links.append(Link(record.exchange.id, CLASSES[i % 3], f"c{i % 4}"))
    return records, links


def _filters(rng: random.Random, rows: list[RequestSummary]) -> list[RequestFilter]:
    times = sorted({r.started_at_ms for r in rows})
    choices: dict[str, list[Any]] = {
        "since_ms": [times[0], times[10], times[len(times) // 2] + 1, times[-1] + 1],
        "until_ms": [times[0], times[10], times[-1], times[-1] + 1],
        "host": ["a.example", "b.example", "c.example"],
        "account_id": ["acct-1", "acct-2", "nobody"],
        "model": ["opus", "OPUS", "sonnet", "4-5", "haiku-4", "%", "_", "like%m", "claude"],
        "status": ["200", "2xx", "3xx", "4xx", "5xx", "429", "529", "error", "404"],
        "traffic_class": [c.value for c in CLASSES] + ["quota"],
        "session_id": ["s1", "s2", "s3", "s4"],
        "conversation_id": ["c0", "c1", "c2", "c3", "c9"],
        "text": [*WORDS, "MIGRATION", "cache fix", "schema Rollback", "absent"],
    }
    flts = [RequestFilter()]
    flts += [RequestFilter(**{name: value}) for name, values in choices.items() for value in values]
    for _ in range(120):  # combinations of two to four fields
        names = rng.sample(sorted(choices), rng.randint(2, 4))
        flts.append(RequestFilter(**{n: rng.choice(choices[n]) for n in names}))
    return flts


async def test_row_matches_agrees_with_the_store_on_every_filter(store: Any) -> None:
    rng = random.Random(17)
    records, links = _records(rng)
    await store.write_batch(records)
    await store.write_links(links)
    rows = (await store.list_requests(RequestFilter(), None, 1000)).items
    assert len(rows) == len(records)
    flts = _filters(rng, rows)
    matched_somewhere = 0
    for flt in flts:
        listed = {r.id for r in (await store.list_requests(flt, None, 1000)).items}
        expected = {r.id for r in rows if row_matches(r, flt)}
        assert listed == expected, (store.dialect, flt, sorted(listed ^ expected))
        assert await store.count_requests(flt) == len(expected), (store.dialect, flt)
        matched_somewhere += 0 < len(expected) < len(rows)
    assert matched_somewhere > len(flts) // 3  # many filters split the rows: the test can fail


def test_the_filter_language_round_trips_every_field() -> None:
    flt = RequestFilter(**{f.name: _example(f.name) for f in fields(RequestFilter)})
    assert parse_query(describe(flt)).filter == flt


def _example(name: str) -> Any:
    return {"since_ms": T0, "until_ms": T0 + 1, "status": "5xx", "traffic_class": "turn",
            "text": "two words"}.get(name, f"{name}-x")  # fmt: skip
