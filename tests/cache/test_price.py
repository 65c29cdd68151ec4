"""Excess cost of a break, to the micro-dollar, from the dated price book."""

from __future__ import annotations

from nexus.cache.price import cache_efficiency, excess_cost_usd_micros
from nexus.records import Usage

AT = 1_790_000_000_000  # 2026-09: Opus 4.8 = the claude-opus-4-5 entry (5 / 6.25 / 10 / 0.5 $/MTok)


def usage(write_5m: int = 0, write_1h: int = 0, read: int = 0, fresh: int = 3) -> Usage:
    return Usage(fresh, 10, write_5m + write_1h, write_5m, write_1h, read)


def test_five_minute_rewrites_cost_the_write_price_less_the_read_price() -> None:
    assert excess_cost_usd_micros("claude-opus-4-8", usage(50_000), 40_000, AT) == 230_000


def test_the_1h_share_is_priced_at_the_1h_write_price_in_the_requests_own_proportion() -> None:
    # 30 000 written for 5 minutes, 10 000 for an hour; 20 000 missed: 15 000 at 5.75, 5 000 at 9.5
    got = excess_cost_usd_micros("claude-opus-4-8", usage(30_000, 10_000), 20_000, AT)
    assert got == 15_000 * 575 // 100 + 5_000 * 95 // 10 == 133_750


def test_a_split_that_does_not_divide_evenly_is_rounded_once_half_to_even() -> None:
    # 1 token missed of 2 + 1 written: 2/3 at 5.75 + 1/3 at 9.5 = 7.0 exactly; 2 missed: 14.0;
    # 1 of (1 + 2): 1/3 at 5.75 + 2/3 at 9.5 = 8.25 -> 8
    assert excess_cost_usd_micros("claude-opus-4-8", usage(2, 1), 1, AT) == 7
    assert excess_cost_usd_micros("claude-opus-4-8", usage(1, 2), 1, AT) == 8


def test_missed_tokens_beyond_what_was_written_were_billed_as_input() -> None:
    # 1 000 written (5.75 each), 3 000 more sent as plain input (5 - 0.5 = 4.5 each)
    assert excess_cost_usd_micros("claude-opus-4-8", usage(1_000), 4_000, AT) == 5_750 + 13_500


def test_long_context_rates_apply_when_the_prompt_is_over_the_threshold() -> None:
    # Haiku 5.5 above 100 000 prompt tokens: write 0.625, read 0.05 -> 0.575 per missed token
    big = usage(150_000)
    assert excess_cost_usd_micros("claude-haiku-5-5", big, 100_000, AT + 30 * 86_400_000) == 57_500
    small = usage(50_000)
    assert excess_cost_usd_micros("claude-haiku-5-5", small, 40_000, AT + 30 * 86_400_000) == 4_600


def test_an_unknown_model_is_unpriced_not_free() -> None:
    assert excess_cost_usd_micros("gpt-9", usage(1_000), 500, AT) is None
    assert excess_cost_usd_micros("claude-opus-4-8", usage(1_000), 0, AT) == 0


def test_efficiency_is_read_over_read_plus_write() -> None:
    assert cache_efficiency(900, 100) == 0.9
    assert cache_efficiency(0, 0) is None
