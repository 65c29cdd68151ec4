"""The totals of a set of calls: how many, their tokens, their cost and how many had no price.

The one sum the TUI's conversation numbers, the exports' conversation totals and every other
"how much did these calls cost" share. A call is *unpriced* when its cost is unknown (its model is
not in the price book): the cost then sums the priced calls only and is a lower bound, which every
view says. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from nexus.records import RequestSummary, Usage

_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage))


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd_micros: int = 0  # the priced calls' cost
    unpriced: int = 0  # calls whose cost is unknown


def totals(rows: Iterable[RequestSummary]) -> Totals:
    sums = dict.fromkeys(_USAGE_FIELDS, 0)
    requests = cost = unpriced = 0
    for row in rows:
        requests += 1
        for name in _USAGE_FIELDS:
            sums[name] += getattr(row.usage, name)
        if row.cost_usd_micros is None:
            unpriced += 1
        else:
            cost += row.cost_usd_micros
    return Totals(requests, Usage(**sums), cost, unpriced)
