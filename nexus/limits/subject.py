"""Who a call is, for the limiter: the scopes it counts toward and what each scope checks.

A ``Subject`` is built once per credential file state (``nexus.proxy.subjects``) with everything
admission would otherwise work out per call: its checked scopes, whether its policy needs the model,
the 5-hour window or the tool-call streak. ``CallFacts`` is what the proxy reads from a body for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from nexus.limits.buckets import KINDS, Kind
from nexus.limits.counters import COST, REQUESTS, TOKENS
from nexus.limits.policy import Limits, Runaway

if TYPE_CHECKING:
    from nexus.limits.limiter import Plan

USD = 1_000_000  # cost is kept in micro-dollars


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    kind: Kind
    limit: float
    what: int  # REQUESTS, TOKENS or COST (CounterBook.used)
    scale: int = 1
    kind_index: int = field(default=0, init=False, compare=False)  # its place in KINDS
    hard: float = field(default=0, init=False, compare=False)  # the limit in counter units

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind_index", KINDS.index(self.kind))
        object.__setattr__(self, "hard", self.limit * self.scale)


def checks_of(limits: Limits) -> list[Check]:
    checks = []
    if limits.requests_per_minute is not None:
        checks.append(Check("requests per minute", "minute", limits.requests_per_minute,
                             REQUESTS))  # fmt: skip
    if limits.tokens_per_hour is not None:
        checks.append(Check("tokens per hour", "hour", limits.tokens_per_hour, TOKENS))
    if limits.usd_per_day is not None:
        checks.append(Check("dollars per day", "day", limits.usd_per_day, COST, USD))
    if limits.usd_per_month is not None:
        checks.append(Check("dollars per month", "month", limits.usd_per_month, COST, USD))
    return checks


@dataclass(frozen=True, slots=True)
class Scope:
    """One thing a call counts toward: ``key`` names its counter rows, ``label`` its messages."""

    key: str  # "host:team.example", "account:acme", "client:alice@team.example"
    label: str  # "host team.example", "account acme", "client alice@team.example"
    limits: Limits
    checks: tuple[Check, ...] = field(default=(), compare=False)
    # model → allowed: the patterns are matched once per model and credential file state
    _allowed: dict[str | None, bool] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        # built once per credential file state, so admission only walks a ready list
        object.__setattr__(self, "checks", tuple(checks_of(self.limits)))

    def allows_model(self, model: str | None) -> bool:
        allowed = self._allowed.get(model)
        if allowed is None:
            allowed = self.limits.allows_model(model)
            if len(self._allowed) < 256:  # a client may name any string: keep it bounded
                self._allowed[model] = allowed
        return allowed


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a call is, for the limiter: built once per credential file state, with its grant."""

    scopes: tuple[Scope, ...]
    soft: float
    runaway: Runaway | None = None
    host: str | None = None
    account_id: str | None = None
    account_key: str | None = None  # the account's scope key (counted for window shares)

    # What the proxy must read for this subject, worked out once per credential file state:
    watches_window: bool = field(default=False, init=False, compare=False)
    """Whether the proxy must read the 5-hour window from this subject's responses."""
    wants_model: bool = field(default=False, init=False, compare=False)
    streak_cap: int = field(default=0, init=False, compare=False)
    """How far back the proxy must look for a repeated tool call (0: not at all)."""
    model_scopes: tuple[Scope, ...] = field(default=(), init=False, compare=False, repr=False)
    scope_keys: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)
    checked: tuple[Scope, ...] = field(default=(), init=False, compare=False, repr=False)
    """The scopes with a limit to check."""
    # Kept by the limiter (``Limiter.admit``), so a call reads ready answers: models every model
    # scope allows, and the plan (each checked scope's headroom) of the limiter last used.
    allowed_models: set[str | None] = field(
        default_factory=set, init=False, compare=False, repr=False
    )
    plan: Plan | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        model_scopes = tuple(s for s in self.scopes if s.limits.models is not None)
        put("model_scopes", model_scopes)
        put("wants_model", bool(model_scopes))
        put("watches_window", any(s.limits.window_share is not None for s in self.scopes))
        put("streak_cap", (self.runaway.repeats or 0) if self.runaway is not None else 0)
        put("scope_keys", tuple(scope.key for scope in self.scopes))
        put("checked", tuple(s for s in self.scopes if s.checks))


class CallFacts(NamedTuple):
    """What the limiter needs from a request body, read by the proxy only when a policy asks.
    (A named tuple: built on every limited call, at a fraction of a frozen dataclass's cost.)"""

    model: str | None = None
    session_id: str | None = None
    repeated_tool: str | None = None  # the tool the agent called again and again
    repeats: int = 0  # how many times in a row, counting the latest call
