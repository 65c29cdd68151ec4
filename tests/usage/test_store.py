from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nexus.errors import ApiError
from nexus.records import RequestFilter, Usage
from nexus.usage.cost import cost_usd_micros
from nexus.usage.prices import load_price_book
from tests.factories import make_record

T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z
H = 3_600_000


def unified(u5: float) -> tuple[tuple[str, str], ...]:
    return (
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-utilization", str(u5)),
        ("anthropic-ratelimit-unified-5h-reset", str((T0 + 5 * H) // 1000)),
    )


def seed() -> list[Any]:
    return [
        make_record(
            started_at_ms=T0,
            account_id="team",
            session_id="s1",
            client_key_id="alice",
            model="claude-opus-4-8",
            usage=Usage(
                input_tokens=100,
                output_tokens=10,
                cache_creation_input_tokens=50,
                cache_creation_1h_tokens=20,
                cache_creation_5m_tokens=30,
                cache_read_input_tokens=1000,
            ),
            cost_usd_micros=500,
            ratelimit=unified(0.1),
        ),
        make_record(
            started_at_ms=T0 + H,
            account_id="team",
            session_id="s1",
            client_key_id="alice",
            model="claude-haiku-4-5",
            usage=Usage(input_tokens=7, output_tokens=3),
            cost_usd_micros=22,
            ratelimit=unified(0.2),
        ),
        make_record(
            started_at_ms=T0 + 2 * H,
            account_id="team",
            session_id="s2",
            client_key_id="bob",
            model="claude-opus-4-8",
            status=529,
            usage=Usage(),
            cost_usd_micros=0,
            ratelimit=unified(0.3),
        ),
        make_record(
            started_at_ms=T0 + 30 * H,
            account_id=None,
            client_key_id=None,
            host="api.example:8080",
            session_id="s3",
            model="mystery-model",
            usage=Usage(input_tokens=5),
            cost_usd_micros=None,
            ratelimit=(),
        ),
    ]


async def test_report_totals_every_token_kind_cost_and_errors(usage_store: Any) -> None:
    await usage_store.write_batch(seed())
    (row,) = await usage_store.usage_report(RequestFilter())
    assert row.group == ()
    assert (row.requests, row.errors) == (4, 1)
    assert (row.input_tokens, row.output_tokens) == (112, 13)
    assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens, row.cache_read_tokens) == (
        30,
        20,
        1000,
    )
    assert (row.cost_usd_micros, row.unpriced_requests) == (522, 1)
    assert (row.first_ms, row.last_ms) == (T0, T0 + 30 * H)


async def test_report_groups_by_account_model_session_and_host(usage_store: Any) -> None:
    await usage_store.write_batch(seed())
    by_account = await usage_store.usage_report(RequestFilter(), ["account"])
    assert [(r.group, r.requests) for r in by_account] == [
        ((("account", "team"),), 3),
        ((("account", "host:api.example:8080"),), 1),
    ]
    by_model_session = await usage_store.usage_report(RequestFilter(), ["model", "session"])
    assert [r.group for r in by_model_session][0] == (
        ("model", "claude-opus-4-8"),
        ("session", "s1"),
    )
    by_host = await usage_store.usage_report(RequestFilter(), ["host"])
    assert {r.group[0][1] for r in by_host} == {"localhost:3000", "api.example:8080"}


async def test_report_orders_a_missing_group_after_named_ones_on_a_tie(usage_store: Any) -> None:
    # A refused call by a named person and one with no client key at all: same cost (0) and count.
    # Seen in a trial: `nexus usage --by client_key` died comparing a name with None.
    refused = dict(started_at_ms=T0, usage=Usage(), cost_usd_micros=0, status=429)
    await usage_store.write_batch(
        [
            make_record(client_key_id=None, **refused),
            make_record(client_key_id="bob", **refused),
        ]
    )
    rows = await usage_store.usage_report(RequestFilter(), ["client_key"])
    assert [r.group for r in rows] == [(("client_key", "bob"),), (("client_key", None),)]


async def test_report_filters_and_day_buckets(usage_store: Any) -> None:
    await usage_store.write_batch(seed())
    days = await usage_store.usage_report(RequestFilter(), (), "day")
    assert [(r.group, r.requests) for r in days] == [
        ((("day", "2025-11-24"),), 3),
        ((("day", "2025-11-25"),), 1),
    ]
    shifted = await usage_store.usage_report(RequestFilter(), ["day"], utc_offset_ms=8 * H)
    assert [r.group[0][1] for r in shifted] == ["2025-11-25", "2025-11-26"]
    since = await usage_store.usage_report(RequestFilter(since_ms=T0 + H, until_ms=T0 + 3 * H))
    assert since[0].requests == 2
    opus = await usage_store.usage_report(RequestFilter(model="opus"), ["session"])
    assert {r.group[0][1] for r in opus} == {"s1", "s2"}


async def test_report_refuses_unknown_groups_and_is_empty_without_rows(usage_store: Any) -> None:
    with pytest.raises(ApiError):
        await usage_store.usage_report(RequestFilter(), ["planet"])
    assert await usage_store.usage_report(RequestFilter()) == []


async def test_readings_and_latest_reading_per_account(usage_store: Any) -> None:
    records = seed()
    await usage_store.write_batch(records)
    readings = await usage_store.usage_readings(since_ms=0)
    assert [r.request_id for r in readings] == [r.id for r in records[:3]]
    assert readings[0].at_ms == T0 + 300  # first byte
    assert readings[0].ratelimit == unified(0.1)
    assert [r.request_id for r in await usage_store.usage_readings(0, limit=1)] == [records[2].id]
    assert await usage_store.usage_readings(0, account="nobody") == []
    (latest,) = await usage_store.usage_latest_readings(since_ms=0)
    assert (latest.account, latest.request_id, latest.session_id) == ("team", records[2].id, "s2")


async def test_usage_points_carry_usage_and_cost(usage_store: Any) -> None:
    records = seed()
    await usage_store.write_batch(records)
    points = await usage_store.usage_points(since_ms=T0, until_ms=T0 + 2 * H)
    assert [p.request_id for p in points] == [records[0].id, records[1].id]
    assert points[0].usage == records[0].usage and points[0].cost_usd_micros == 500
    assert points[0].account == "team" and points[0].client_key_id == "alice"
    other = await usage_store.usage_points(0, account="host:api.example:8080")
    assert other[0].cost_usd_micros is None


async def test_recost_reprices_history_after_a_price_change(
    usage_store: Any, tmp_path: Path
) -> None:
    records = seed()
    await usage_store.write_batch(records)
    assert await usage_store.recost(cost_usd_micros) == 1  # only the stale opus cost differs
    rows = {r.group[0][1]: r for r in await usage_store.usage_report(RequestFilter(), ["model"])}
    # opus 4.8: 100*5 + 30*6.25 + 20*10 + 1000*0.5 + 10*25 = 1637.5 → 1638
    assert rows["claude-opus-4-8"].cost_usd_micros == 1638
    assert rows["claude-haiku-4-5"].cost_usd_micros == 7 * 1 + 3 * 5
    assert rows["mystery-model"].unpriced_requests == 1
    assert await usage_store.recost(cost_usd_micros) == 0  # nothing changed the second time

    path = tmp_path / "prices.json"
    path.write_text(
        '{"models": [{"match": "claude-opus-4-5", "prices": [{"from": "2025-01-01",'
        ' "input": 10, "cache_write_5m": 12.5, "cache_write_1h": 20, "cache_read": 1,'
        ' "output": 50}]}]}'
    )
    book = load_price_book(path)
    changed = await usage_store.recost(lambda m, u, at: cost_usd_micros(m, u, at, book))
    assert changed == 1  # the opus call with tokens; the failed one stays at 0
    rows = {r.group[0][1]: r for r in await usage_store.usage_report(RequestFilter(), ["model"])}
    assert rows["claude-opus-4-8"].cost_usd_micros == 3275
