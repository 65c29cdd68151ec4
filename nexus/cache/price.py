"""What a cache break cost: the missed tokens at the price paid for them, less the read price.

The missed tokens were billed again as cache writes (at the 5-minute or 1-hour write price, in the
proportion of the request's own 5m/1h split) or, beyond what the request wrote, as plain input;
read from the cache they would have cost the read price. Rates come from the dated price book at
the request's start, the long-context tier included (``nexus.usage.cost.cost_breakdown`` decides
it); the sum is exact and rounded once, half to even, like every cost in Nexus.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from nexus.records import Usage
from nexus.usage.cost import cache_write_split, cost_breakdown
from nexus.usage.prices import PriceBook, Rates, builtin_price_book


def excess_cost_usd_micros(
    model: str | None,
    usage: Usage,
    missed_tokens: int,
    at_ms: int,
    book: PriceBook | None = None,
) -> int | None:
    """Micro-dollars a break of ``missed_tokens`` cost over reading them; None when unpriced."""
    book = builtin_price_book() if book is None else book
    breakdown = cost_breakdown(model, usage, at_ms, book)
    price = book.price_at(model, at_ms)
    if breakdown is None or price is None:
        return None
    rates: Rates = price.rates
    if breakdown.is_long_context and price.long_context is not None:
        rates = price.long_context.rates
    missed = max(missed_tokens, 0)
    five_m, one_h = cache_write_split(usage)
    written = min(missed, five_m + one_h)
    written_1h = Decimal(written * one_h) / (five_m + one_h) if written else Decimal(0)
    written_5m = written - written_1h
    as_input = missed - written
    excess = (
        written_5m * (rates.cache_write_5m - rates.cache_read)
        + written_1h * (rates.cache_write_1h - rates.cache_read)
        + as_input * (rates.input - rates.cache_read)
    )
    return int(excess.to_integral_value(rounding=ROUND_HALF_EVEN))


def cache_efficiency(read_tokens: int, write_tokens: int) -> float | None:
    """Share of cached prompt tokens that were read rather than written (None: no caching)."""
    total = read_tokens + write_tokens
    return read_tokens / total if total else None
