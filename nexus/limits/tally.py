"""The recorder's side of the limit counters: stored calls → counter row increments.

Each call the proxy admitted under a policy carries the scopes it counts toward
(``Exchange.limit_scopes``); once its record is stored, the recorder adds its requests, input+output
tokens and cost to one row per scope, window and replica (``Store.add_to_counters``). Calls Nexus
refused carry no scope and count toward nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from nexus.limits.buckets import bounds
from nexus.limits.counters import CounterRow, kinds_for
from nexus.records import RequestRecord


def tally(records: Sequence[RequestRecord], replica: str) -> list[CounterRow]:
    """Increments for a batch of stored records, one per scope, window and replica."""
    sums: dict[tuple[str, str, int], list[int]] = {}
    ends: dict[tuple[str, str, int], int] = {}
    for record in records:
        ex = record.exchange
        if not ex.limit_scopes:
            continue
        tokens = record.usage.input_tokens + record.usage.output_tokens
        cost = record.cost_usd_micros or 0
        for scope in ex.limit_scopes:
            for kind in kinds_for(scope):
                start, end = bounds(kind, ex.started_at_ms)
                key = (scope, kind, start)
                slot = sums.setdefault(key, [0, 0, 0, 0])
                slot[0] += 1
                slot[1] += tokens
                slot[2] += cost
                slot[3] = max(slot[3], ex.started_at_ms)
                ends[key] = end
    return [
        CounterRow(scope, kind, start, ends[(scope, kind, start)], replica, *slot)
        for (scope, kind, start), slot in sums.items()
    ]
