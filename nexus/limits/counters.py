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

import logging
from collections.abc import Callable

from nexus.limits.buckets import KINDS, Kind, bounds
from nexus.records import CounterRow

log = logging.getLogger("nexus.limits")

SESSION_PREFIX = "session:"
"""A session's scope counts only in minute windows: the runaway guard sums the last few."""


__all__ = [
    "COST", "REQUESTS", "SESSION_PREFIX", "TOKENS", "CounterBook", "CounterRow", "Windows",
    "kinds_for",
]  # fmt: skip


def kinds_for(scope: str) -> tuple[Kind, ...]:
    """The windows a scope counts in (the recorder's tally and the proxy agree through this)."""
    return ("minute",) if scope.startswith(SESSION_PREFIX) else KINDS


REQUESTS, TOKENS, COST = 0, 1, 2
"""What ``CounterBook.used`` sums: requests, input+output tokens, or cost in micro-dollars."""


_Key = tuple[str, str, int]  # scope, kind, start_ms


class Windows:
    """The window of each kind holding one minute: (kind, start_ms, end_ms) in ``KINDS`` order.

    Every window kind starts on a minute boundary (UTC), so one minute's windows serve every call
    of that minute: admission looks them up once per call instead of once per check."""

    __slots__ = ("all", "end_ms", "start_ms", "starts")

    def __init__(self, at_ms: int) -> None:
        self.all = tuple((kind, *bounds(kind, at_ms)) for kind in KINDS)
        self.starts = {kind: start for kind, start, _ in self.all}
        self.start_ms, self.end_ms = self.all[0][1], self.all[0][2]


class CounterBook:
    """Counter rows of every replica by window, and this replica's admissions."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self._rows: dict[_Key, dict[str, CounterRow]] = {}
        # per window, the rows' sums (requests, tokens, cost, this replica's requests): kept by
        # ``apply`` so that admission reads one tuple instead of walking the replicas' rows
        self._sums: dict[_Key, tuple[int, int, int, int]] = {}
        self._admitted: dict[_Key, int] = {}  # admissions of past minutes, by window
        # admissions in the minute of ``_windows``, by scope (one dict for the book's life: the
        # limiter reads it directly on the hot path)
        self.this_minute: dict[str, int] = {}
        self._ends: dict[_Key, int] = {}
        self._by_scope: dict[str, set[_Key]] = {}  # a scope's rows (runaway guard, window share)
        self._windows = Windows(0)
        # per scope, bumped whenever ``apply`` or ``forget_before`` changes one of its windows:
        # the limiter's headroom for a scope holds while its stamp and the minute do
        self.stamps: dict[str, int] = {}  # read directly by the limiter: ``stamp``
        # bumped with every change of any window (rows applied or dropped) and at each new
        # minute: what the limiter's kept headroom was worked out under (``Limiter.refresh``)
        self.version = 0
        # told the scopes whose stamps moved, right after: the limiter redoes their headroom there
        # (the feed's task), so calls do not pay for it (``Limiter.refresh``)
        self.on_change: Callable[[set[str]], None] | None = None

    def windows(self, at_ms: int) -> Windows:
        """The windows holding ``at_ms`` (cached for the minute). A new minute first folds the
        last one's admissions into the windows they belong to."""
        current = self._windows
        if not current.start_ms <= at_ms < current.end_ms:
            self._fold(current)
            current = self._windows = Windows(at_ms)
            self.version += 1
        return current

    def _fold(self, windows: Windows) -> None:
        admitted, ends = self._admitted, self._ends
        for scope, count in self.this_minute.items():
            for kind, start, end in windows.all[: len(kinds_for(scope))]:
                key = (scope, kind, start)
                admitted[key] = admitted.get(key, 0) + count
                ends[key] = end
        self.this_minute.clear()

    def apply(self, rows: list[CounterRow]) -> None:
        """Take rows as read from the store (absolute values: reading one twice is harmless)."""
        touched = set()
        for row in rows:
            key = (row.scope, row.kind, row.start_ms)
            by_replica = self._rows.get(key)
            if by_replica is None:
                by_replica = self._rows[key] = {}
                self._ends[key] = row.end_ms
                self._by_scope.setdefault(row.scope, set()).add(key)
            elif by_replica.get(row.replica) == row:
                continue  # read again (the feed's overlap): nothing to redo
            by_replica[row.replica] = row
            touched.add(key)
        stamps = self.stamps
        for key in touched:
            stamps[key[0]] = stamps.get(key[0], 0) + 1
            by_replica = self._rows[key]
            own = by_replica.get(self.replica)
            self._sums[key] = (
                sum(r.requests for r in by_replica.values()),
                sum(r.tokens for r in by_replica.values()),
                sum(r.cost_usd_micros for r in by_replica.values()),
                own.requests if own is not None else 0,
            )
        if touched:
            self._changed({key[0] for key in touched})

    def _changed(self, scopes: set[str]) -> None:
        self.version += 1
        if self.on_change is not None:
            try:
                self.on_change(scopes)
            except Exception:  # the rows are in: a limiter whose headroom is stale rechecks
                log.exception("could not redo the limits headroom of %d scopes", len(scopes))

    def admit(self, scopes: tuple[str, ...], at_ms: int) -> None:
        """Count a call admitted now toward each of ``scopes``: one increment per scope (the
        minute's count; ``windows`` folds it into the hour, day and month when the minute ends)."""
        self.windows(at_ms)
        minute = self.this_minute
        for scope in scopes:
            minute[scope] = minute.get(scope, 0) + 1

    def stamp(self, scope: str) -> int:
        """Changes whenever a window of ``scope`` is updated from the store or dropped."""
        return self.stamps.get(scope, 0)

    def admitted_this_minute(self, scope: str) -> int:
        return self.this_minute.get(scope, 0)

    def step(self, scope: str, kind: Kind, start_ms: int, what: int) -> int:
        """The most one more admission can add to ``used`` of a window while no row changes:
        one request; a recorded call's average tokens or cost (rounded up), 0 with none recorded."""
        if what == REQUESTS:
            return 1
        sums = self._sums.get((scope, kind, start_ms))
        if sums is None or not sums[0]:
            return 0
        return -(-sums[what] // sums[0])

    def used(self, scope: str, kind: Kind, start_ms: int, what: int) -> int:
        """A window's ``what`` (``REQUESTS``, ``TOKENS`` or ``COST``) as best known now, calls
        admitted here and not yet recorded included (their tokens and cost at the window's
        average per recorded call). Requests are exact on one replica."""
        key = (scope, kind, start_ms)
        admitted = self._admitted.get(key, 0)
        if self._windows.starts.get(kind) == start_ms and (
            kind == "minute" or not scope.startswith(SESSION_PREFIX)
        ):  # the window holds the current minute, and the scope counts in it
            admitted += self.this_minute.get(scope, 0)
        sums = self._sums.get(key)
        if sums is None:
            return admitted if what == REQUESTS else 0
        requests, _, _, own = sums
        if what == REQUESTS:
            return requests - own + max(admitted, own)
        value = sums[what]
        pending = admitted - own
        return value + value * pending // requests if pending > 0 and requests else value

    def recent_cost(self, scope: str, since_ms: int) -> int:
        """Recorded cost of a scope's minute windows that end after ``since_ms`` (runaway guard)."""
        total = 0
        for key in self._by_scope.get(scope, ()):
            if key[1] == "minute" and self._ends[key] > since_ms:
                total += self._sums[key][2]
        return total

    def cost_since(self, scope: str, kind: Kind, start_ms: int) -> int:
        """Recorded cost of a scope's ``kind`` windows that start at or after ``start_ms``."""
        total = 0
        for key in self._by_scope.get(scope, ()):
            if key[1] == kind and key[2] >= start_ms:
                total += self._sums[key][2]
        return total

    def forget_before(self, at_ms: int) -> None:
        """Drop windows that ended before ``at_ms``: memory stays bounded by the live windows."""
        stale = [key for key, end in self._ends.items() if end < at_ms]
        for key in stale:
            self.stamps[key[0]] = self.stamps.get(key[0], 0) + 1
            del self._ends[key]
            self._rows.pop(key, None)
            self._sums.pop(key, None)
            self._admitted.pop(key, None)
            keys = self._by_scope.get(key[0])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_scope[key[0]]
        if stale:
            self._changed({key[0] for key in stale})
