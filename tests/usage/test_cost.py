from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus.recorder.sse import assemble_json, assemble_sse
from nexus.records import Usage
from nexus.usage.cost import (
    cache_write_split,
    cost_breakdown,
    cost_usd_micros,
    make_cost_function,
)
from nexus.usage.prices import load_price_book

AT = 1_764_547_200_000  # 2025-12-01

# input 1k, 5m cache write 2k, 1h cache write 3k, cache read 4k, output 5k
MIXED = Usage(
    input_tokens=1_000,
    cache_creation_input_tokens=5_000,
    cache_creation_5m_tokens=2_000,
    cache_creation_1h_tokens=3_000,
    cache_read_input_tokens=4_000,
    output_tokens=5_000,
)


@pytest.mark.parametrize(
    ("model", "micros"),
    [
        # 1000*5 + 2000*6.25 + 3000*10 + 4000*0.5 + 5000*25
        ("claude-opus-4-8", 174_500),
        ("claude-opus-4-5-20251101", 174_500),
        # 1000*15 + 2000*18.75 + 3000*30 + 4000*1.5 + 5000*75
        ("claude-opus-4-1-20250805", 523_500),
        ("claude-opus-4-20250514", 523_500),
        ("claude-3-opus-20240229", 523_500),
        # 1000*3 + 2000*3.75 + 3000*6 + 4000*0.3 + 5000*15
        ("claude-sonnet-4-5-20250929", 104_700),
        ("claude-sonnet-4-20250514", 104_700),
        ("claude-sonnet-4-6", 104_700),
        ("claude-3-7-sonnet-20250219", 104_700),
        ("claude-3-5-sonnet-20241022", 104_700),
        # 1000*1 + 2000*1.25 + 3000*2 + 4000*0.1 + 5000*5
        ("claude-haiku-4-5-20251001", 34_900),
        # 1000*0.8 + 2000*1 + 3000*1.6 + 4000*0.08 + 5000*4
        ("claude-3-5-haiku-20241022", 27_920),
        # 1000*0.25 + 2000*0.30 + 3000*0.50 + 4000*0.03 + 5000*1.25
        ("claude-3-haiku-20240307", 8_720),
    ],
)
def test_every_token_kind_is_priced_per_family(model: str, micros: int) -> None:
    assert cost_usd_micros(model, MIXED, AT) == micros


@pytest.mark.parametrize(
    ("usage", "micros"),
    [
        (Usage(input_tokens=1_000_000), 5_000_000),
        (
            Usage(cache_creation_input_tokens=1_000_000, cache_creation_5m_tokens=1_000_000),
            6_250_000,
        ),
        (
            Usage(cache_creation_input_tokens=1_000_000, cache_creation_1h_tokens=1_000_000),
            10_000_000,
        ),
        (Usage(cache_read_input_tokens=1_000_000), 500_000),
        (Usage(output_tokens=1_000_000), 25_000_000),
    ],
)
def test_each_token_kind_alone_costs_its_rate(usage: Usage, micros: int) -> None:
    assert cost_usd_micros("claude-opus-4-8", usage, AT) == micros


def test_cache_writes_without_a_split_are_five_minute() -> None:
    usage = Usage(cache_creation_input_tokens=1_000)
    assert cache_write_split(usage) == (1_000, 0)
    assert cost_usd_micros("claude-sonnet-4-5", usage, AT) == 3_750  # 1000 * 3.75


def test_tokens_outside_the_split_are_priced_as_five_minute() -> None:
    usage = Usage(cache_creation_input_tokens=1_000, cache_creation_1h_tokens=400)
    assert cache_write_split(usage) == (600, 400)
    assert cost_usd_micros("claude-sonnet-4-5", usage, AT) == 600 * 3.75 + 400 * 6


def test_cache_reads_are_not_billed_as_fresh_input() -> None:
    reads = cost_usd_micros("claude-sonnet-4-5", Usage(cache_read_input_tokens=10_000), AT)
    fresh = cost_usd_micros("claude-sonnet-4-5", Usage(input_tokens=10_000), AT)
    assert (reads, fresh) == (3_000, 30_000)


def test_streamed_response_with_cache_fields_in_message_start() -> None:
    start_usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3_000,
        "cache_read_input_tokens": 20_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
        "output_tokens": 1,
    }
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "usage": start_usage,
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 500},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    raw = b"".join(b"event: %s\ndata: %s\n\n" % (n.encode(), orjson.dumps(d)) for n, d in events)
    assembled = assemble_sse(raw)
    assert assembled.usage.cache_creation_1h_tokens == 2_000
    assert assembled.usage.output_tokens == 500
    # 10*3 + 1000*3.75 + 2000*6 + 20000*0.3 + 500*15
    assert cost_usd_micros(assembled.model, assembled.usage, AT) == 29_280


def test_non_streamed_response_is_priced_the_same_way() -> None:
    body = orjson.dumps(
        {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 100,
                "output_tokens": 20,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
    )
    assembled = assemble_json(body)
    assert cost_usd_micros(assembled.model, assembled.usage, AT) == 100 * 1 + 20 * 5


def test_long_context_prices_every_token_at_the_higher_rate() -> None:
    over = Usage(input_tokens=150_000, cache_read_input_tokens=60_000, output_tokens=1_000)
    at_limit = Usage(input_tokens=140_000, cache_read_input_tokens=60_000, output_tokens=1_000)
    # 150000*6 + 60000*0.6 + 1000*22.5
    assert cost_usd_micros("claude-sonnet-4-5", over, AT) == 958_500
    # 140000*3 + 60000*0.3 + 1000*15
    assert cost_usd_micros("claude-sonnet-4-5", at_limit, AT) == 453_000
    breakdown = cost_breakdown("claude-sonnet-4-5", over, AT)
    assert breakdown is not None and breakdown.is_long_context
    # Sonnet 4.6 serves 1M context at standard rates
    assert cost_usd_micros("claude-sonnet-4-6", over, AT) == 150_000 * 3 + 60_000 * 0.3 + 15_000


def test_sub_micro_amounts_are_summed_exactly_then_rounded_once() -> None:
    # 7 * 0.8 + 3 * 0.08 = 5.84 → 6 (rounding each part would give 6 + 0)
    usage = Usage(input_tokens=7, cache_read_input_tokens=3)
    assert cost_usd_micros("claude-3-5-haiku-20241022", usage, AT) == 6
    assert cost_usd_micros("claude-3-5-haiku-20241022", Usage(cache_read_input_tokens=3), AT) == 0


@pytest.mark.parametrize("model", ["gpt-4o", "claude-opus-9-1", "claude-instant-1.2", "mystery"])
def test_unknown_models_are_unpriced_never_free(model: str) -> None:
    assert cost_usd_micros(model, Usage(input_tokens=10, output_tokens=10), AT) is None
    assert cost_usd_micros(model, Usage(), AT) is None


def test_a_call_without_model_or_tokens_cost_nothing() -> None:
    assert cost_usd_micros(None, Usage(), AT) == 0
    assert cost_usd_micros(None, Usage(input_tokens=5), AT) is None


def haiku_book(folder: Path, factor: int) -> Path:
    """A user price book with Haiku 4.5 at ``factor`` times its built-in rates."""
    rates = {"input": "1", "cache_write_5m": "1.25", "cache_write_1h": "2", "cache_read": "0.1",
             "output": "5"}  # fmt: skip
    scaled = ", ".join(f'"{k}": {Decimal(v) * factor}' for k, v in rates.items())
    path = folder / "p.json"
    path.write_text(
        '{"models": [{"match": "claude-haiku-4-5", "prices": [{"from": "2025-10-15", '
        + scaled
        + "}]}]}"
    )
    return path


def test_a_user_price_book_changes_the_cost(tmp_path: Path) -> None:
    book = load_price_book(haiku_book(tmp_path, 2))
    assert cost_usd_micros("claude-haiku-4-5", MIXED, AT, book) == 2 * 34_900
    assert cost_usd_micros("claude-haiku-4-5", MIXED, AT) == 34_900


def test_cost_function_from_settings_uses_the_user_book(tmp_path: Path) -> None:
    path = haiku_book(tmp_path, 3)
    assert make_cost_function(path)("claude-haiku-4-5", MIXED, AT) == 3 * 34_900
    assert make_cost_function(None)("claude-haiku-4-5", MIXED, AT) == 34_900


_counts = st.integers(min_value=0, max_value=2_000_000)


@given(_counts, _counts, _counts, _counts, _counts)
def test_cost_is_the_sum_of_its_kinds_within_rounding(
    inp: int, five_m: int, one_h: int, read: int, out: int
) -> None:
    usage = Usage(
        input_tokens=inp,
        cache_creation_input_tokens=five_m + one_h,
        cache_creation_5m_tokens=five_m,
        cache_creation_1h_tokens=one_h,
        cache_read_input_tokens=read,
        output_tokens=out,
    )
    total = cost_usd_micros("claude-3-5-haiku-20241022", usage, AT)
    parts = [
        cost_usd_micros("claude-3-5-haiku-20241022", Usage(input_tokens=inp), AT),
        cost_usd_micros("claude-3-5-haiku-20241022", Usage(cache_creation_input_tokens=five_m), AT),
        cost_usd_micros(
            "claude-3-5-haiku-20241022",
            Usage(cache_creation_input_tokens=one_h, cache_creation_1h_tokens=one_h),
            AT,
        ),
        cost_usd_micros("claude-3-5-haiku-20241022", Usage(cache_read_input_tokens=read), AT),
        cost_usd_micros("claude-3-5-haiku-20241022", Usage(output_tokens=out), AT),
    ]
    assert total is not None and total >= 0
    assert abs(total - sum(p or 0 for p in parts)) <= 3  # each part rounds by at most ½ µ$
