"""Usage, cost and rate-limit windows: the dated price book, per-response cost, and the 5-hour and
7-day windows as Anthropic reports them in response headers (or estimated where it does not).

Pure code: no drivers, no web framework. The store keeps what these functions derive.
"""

from __future__ import annotations

from nexus.usage.cost import CostBreakdown, cost_breakdown, cost_usd_micros
from nexus.usage.prices import PriceBook, builtin_price_book, load_price_book, parse_model_id

__all__ = [
    "CostBreakdown",
    "PriceBook",
    "builtin_price_book",
    "cost_breakdown",
    "cost_usd_micros",
    "load_price_book",
    "parse_model_id",
]
