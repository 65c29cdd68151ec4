"""What one response cost, in integer micro-dollars, from its own usage and the dated price book.

This module is the only place that multiplies tokens by prices. One upstream response is one record
and is priced once, at write time (``recorder`` calls ``cost_usd_micros``) and again only by
``nexus usage recost``. Rules, as Anthropic bills:

- fresh input, 5-minute cache writes, 1-hour cache writes, cache reads and output each have a rate;
- cache writes use the response's 5m/1h split when it gives one, else all of them are 5-minute
  (the API's default lifetime);
- a long-context tier (``long_context.above_tokens``) prices every token of the request at the
  higher rates when the prompt (input + cache writes + cache reads) exceeds the threshold;
- a model the book does not cover is unpriced (``None``), never $0; a call with no model and no
  tokens (``HEAD /``, a request Nexus refused) cost nothing.

Prices are USD per million tokens, so ``tokens * price`` is already in micro-dollars; the sum is
kept exact (``Decimal``) and rounded once, half to even.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from nexus.records import Usage
from nexus.usage.prices import PriceBook, Rates, builtin_price_book, load_price_book

__all__ = [
    "CostBreakdown",
    "CostFunction",
    "cache_write_split",
    "cost_breakdown",
    "cost_usd_micros",
    "make_cost_function",
]

CostFunction = Callable[[str | None, Usage, int], int | None]  # (model, usage, started_at_ms)


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Micro-dollars per token kind (exact, unrounded) and the rounded total."""

    model_entry: str  # the price-book ``match`` that priced it
    is_long_context: bool
    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal

    @property
    def total_usd_micros(self) -> int:
        total = (
            self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read + self.output
        )
        return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


def cache_write_split(usage: Usage) -> tuple[int, int]:
    """(5-minute, 1-hour) cache-write tokens. Uses the response's split when it has one; tokens the
    split does not account for are 5-minute, so no written token goes unpriced."""
    one_h = max(usage.cache_creation_1h_tokens, 0)
    five_m = max(usage.cache_creation_input_tokens - one_h, usage.cache_creation_5m_tokens, 0)
    return five_m, one_h


def cost_breakdown(
    model: str | None, usage: Usage, at_ms: int, book: PriceBook | None = None
) -> CostBreakdown | None:
    """The cost of one response per token kind, or None when the model has no price."""
    book = builtin_price_book() if book is None else book
    entry = book.entry_for(model)
    if entry is None:
        return None
    price = entry.price_at(at_ms)
    five_m, one_h = cache_write_split(usage)
    rates: Rates = price.rates
    prompt = usage.input_tokens + five_m + one_h + usage.cache_read_input_tokens
    is_long = price.long_context is not None and prompt > price.long_context.above_tokens
    if is_long and price.long_context is not None:
        rates = price.long_context.rates
    return CostBreakdown(
        model_entry=entry.match,
        is_long_context=is_long,
        input=usage.input_tokens * rates.input,
        cache_write_5m=five_m * rates.cache_write_5m,
        cache_write_1h=one_h * rates.cache_write_1h,
        cache_read=usage.cache_read_input_tokens * rates.cache_read,
        output=usage.output_tokens * rates.output,
    )


def cost_usd_micros(
    model: str | None, usage: Usage, at_ms: int, book: PriceBook | None = None
) -> int | None:
    """What Anthropic charges for one response, in micro-dollars; None when the model is unpriced.

    ``at_ms`` is when the request started (prices take effect by date). ``book`` defaults to the
    shipped book; a caller with ``Settings`` passes ``load_price_book(settings.price_book_path)``.
    """
    if not model and usage.total_tokens == 0:
        return 0  # no model and no tokens (HEAD /, a refused request): nothing was billed
    breakdown = cost_breakdown(model, usage, at_ms, book)
    return None if breakdown is None else breakdown.total_usd_micros


def make_cost_function(price_book_path: Path | None = None) -> CostFunction:
    """``cost_usd_micros`` bound to the shipped book overlaid by the user's file (read once, now;
    raises ``ConfigError`` when that file is unreadable or invalid)."""
    book = load_price_book(price_book_path)

    def cost(model: str | None, usage: Usage, at_ms: int) -> int | None:
        return cost_usd_micros(model, usage, at_ms, book)

    return cost
