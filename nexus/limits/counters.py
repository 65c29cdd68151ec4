"""The proxy's in-memory counters: what every replica recorded, plus what this one admitted since.

Sole owner of how a window's total is estimated at admission time. The recorder of each replica
adds every stored call to counter rows (one per scope, window and replica: ``CounterRow``); a
background task of the proxy process reads the rows that changed (``CounterFeed``) and ``apply``s
them here. Requests are known the moment they are admitted, so a window's request count is this
replica's admissions plus the other replicas' recorded requests: exact on one replica. Tokens and
cost are only known after a response; calls admitted here and not yet recorded are estimated at
the window's average per recorded call (docs/limits.md, "Overshoot").
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus.limits.buckets import KINDS, Kind, bounds
from nexus.records import CounterRow

SESSION_PREFIX = "session:"
"""A session's scope counts only in minute windows: the runaway guard sums the last few."""


__all__ = ["SESSION_PREFIX", "CounterBook", "CounterRow", "Totals", "kinds_for"]


def kinds_for(scope: str) -> tuple[Kind, ...]:
    """The windows a scope counts in (the recorder's tally and the proxy agree through this)."""
    return ("minute",) if scope.startswith(SESSION_PREFIX) else KINDS


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    tokens: int
    cost_usd_micros: int


_Key = tuple[str, str, int]  # scope, kind, start_ms
_ONLY_REQUESTS = [Totals(n, 0, 0) for n in range(256)]  # the common case, without an allocation


class CounterBook:
    """Counter rows of every replica by window, and this replica's admissions."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self._rows: dict[_Key, dict[str, CounterRow]] = {}
        self._admitted: dict[_Key, int] = {}
        self._ends: dict[_Key, int] = {}
        self._by_scope: dict[str, set[_Key]] = {}  # a scope's rows (runaway guard, window share)

    def apply(self, rows: list[CounterRow]) -> None:
        """Take rows as read from the store (absolute values: reading one twice is harmless)."""
        for row in rows:
            key = (row.scope, row.kind, row.start_ms)
            self._rows.setdefault(key, {})[row.replica] = row
            self._ends[key] = row.end_ms
            self._by_scope.setdefault(row.scope, set()).add(key)

    def admit(self, scopes: tuple[str, ...], at_ms: int) -> None:
        windows = {kind: bounds(kind, at_ms) for kind in KINDS}
        for scope in scopes:
            for kind in kinds_for(scope):
                start, end = windows[kind]
                key = (scope, kind, start)
                self._admitted[key] = self._admitted.get(key, 0) + 1
                self._ends[key] = end

    def totals(self, scope: str, kind: Kind, at_ms: int, start_ms: int | None = None) -> Totals:
        """The window's totals as best known now, calls admitted here and not yet recorded
        included (their tokens and cost at the window's average per recorded call).
        ``start_ms``: the window's start when the caller has it at hand."""
        key = (scope, kind, bounds(kind, at_ms)[0] if start_ms is None else start_ms)
        admitted = self._admitted.get(key, 0)
        rows = self._rows.get(key)
        if not rows:
            return _ONLY_REQUESTS[admitted] if admitted < 256 else Totals(admitted, 0, 0)
        requests = tokens = cost = 0
        own = 0
        for replica, row in rows.items():
            requests += row.requests
            tokens += row.tokens
            cost += row.cost_usd_micros
            if replica == self.replica:
                own = row.requests
        pending = max(0, admitted - own)
        if pending and requests:
            tokens += tokens * pending // requests
            cost += cost * pending // requests
        return Totals(requests - own + max(admitted, own), tokens, cost)

    def recent_cost(self, scope: str, since_ms: int) -> int:
        """Recorded cost of a scope's minute windows that end after ``since_ms`` (runaway guard)."""
        total = 0
        for key in self._by_scope.get(scope, ()):
            if key[1] == "minute" and self._ends[key] > since_ms:
                total += sum(row.cost_usd_micros for row in self._rows[key].values())
        return total

    def cost_since(self, scope: str, kind: Kind, start_ms: int) -> int:
        """Recorded cost of a scope's ``kind`` windows that start at or after ``start_ms``."""
        total = 0
        for key in self._by_scope.get(scope, ()):
            if key[1] == kind and key[2] >= start_ms:
                total += sum(row.cost_usd_micros for row in self._rows[key].values())
        return total

    def forget_before(self, at_ms: int) -> None:
        """Drop windows that ended before ``at_ms``: memory stays bounded by the live windows."""
        stale = [key for key, end in self._ends.items() if end < at_ms]
        for key in stale:
            del self._ends[key]
            self._rows.pop(key, None)
            self._admitted.pop(key, None)
            keys = self._by_scope.get(key[0])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_scope[key[0]]
