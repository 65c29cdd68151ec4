"""The limits policy of a team host: its one format, parsed and validated once.

Sole owner of the policy format (docs/limits.md). A policy sits in a credential file under
``"policy"`` or, the same object, in ``<host>.policy.json`` beside it; ``parse_policy`` turns either
into a frozen ``Policy`` or raises ``ConfigError`` naming the file, the field and what is allowed.
Nothing here counts or refuses: that is ``nexus.limits.limiter``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from nexus.errors import ConfigError
from nexus.json_fields import json_object, no_unknown

DEFAULT_SOFT_FRACTION = 0.8
"""A soft limit alerts at this share of each hard limit unless the policy says otherwise."""

LIMIT_FIELDS = {
    "requests_per_minute": "requests per minute",
    "tokens_per_hour": "input+output tokens per hour",
    "usd_per_day": "dollars per day",
    "usd_per_month": "dollars per month",
}
"""Numeric limits and how a refusal names them."""

_LIMIT_KEYS = frozenset({*LIMIT_FIELDS, "models", "window_share"})
_POLICY_KEYS = frozenset({"host", "account", "client", "clients", "soft", "runaway"})
_RUNAWAY_KEYS = frozenset({"repeats", "usd", "minutes", "refuse"})
MAX_REPEATS = 100  # each repeat read costs the proxy a look-up in the body on every call


@dataclass(frozen=True, slots=True)
class Limits:
    """The hard limits of one scope; None: no limit of that kind."""

    requests_per_minute: int | None = None
    tokens_per_hour: int | None = None
    usd_per_day: float | None = None
    usd_per_month: float | None = None
    models: tuple[str, ...] | None = None  # fnmatch patterns; None: every model
    window_share: float | None = None  # most of the account's 5-hour window one person may use

    @property
    def is_empty(self) -> bool:
        return self == _NO_LIMITS

    def allows_model(self, model: str | None) -> bool:
        if self.models is None:
            return True
        return model is not None and any(fnmatch.fnmatchcase(model, p) for p in self.models)

    def merged_over(self, base: Limits) -> Limits:
        """These limits, each unset field taken from ``base`` (a client's over the default)."""
        return Limits(
            requests_per_minute=_first(self.requests_per_minute, base.requests_per_minute),
            tokens_per_hour=_first(self.tokens_per_hour, base.tokens_per_hour),
            usd_per_day=_first(self.usd_per_day, base.usd_per_day),
            usd_per_month=_first(self.usd_per_month, base.usd_per_month),
            models=self.models if self.models is not None else base.models,
            window_share=_first(self.window_share, base.window_share),
        )


_NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Runaway:
    """The runaway guard: the same tool call ``repeats`` times in a row, or more than ``usd``
    spent by one session within ``minutes``. ``refuse``: answer 429, else only alert."""

    repeats: int | None = None
    usd: float | None = None
    minutes: int = 10
    refuse: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    """A team host's limits: its own, its account's, every client's (``client``) and per named
    client (``clients``, fields unset there fall back to ``client``)."""

    host: Limits = _NO_LIMITS
    account: Limits = _NO_LIMITS
    client: Limits = _NO_LIMITS
    clients: dict[str, Limits] = field(default_factory=dict)
    soft: float = DEFAULT_SOFT_FRACTION
    runaway: Runaway | None = None

    @property
    def has_window_share(self) -> bool:
        return self.client.window_share is not None or any(
            limits.window_share is not None for limits in self.clients.values()
        )

    def for_client(self, name: str | None) -> Limits:
        own = self.clients.get(name) if name is not None else None
        return own.merged_over(self.client) if own is not None else self.client


def parse_policy(data: object, source: str) -> Policy:
    """A policy from its parsed JSON; ``ConfigError`` naming ``source`` and the field."""
    where = f"policy in {source}"
    block = json_object(data, where)
    no_unknown(block, _POLICY_KEYS, where)
    clients = json_object(block.get("clients", {}), f"{where}: clients")
    soft = block.get("soft", DEFAULT_SOFT_FRACTION)
    if isinstance(soft, bool) or not isinstance(soft, int | float) or not 0 < soft <= 1:
        raise ConfigError(f"{where}: soft must be a fraction above 0 and at most 1, e.g. 0.8.")
    runaway = block.get("runaway")
    for part in ("host", "account"):
        if isinstance(block.get(part), dict) and "window_share" in block[part]:
            raise ConfigError(
                f"{where}: {part}: window_share is a limit per person; set it under client or "
                "clients.NAME."
            )
    return Policy(
        host=parse_limits(block.get("host", {}), f"{where}: host"),
        account=parse_limits(block.get("account", {}), f"{where}: account"),
        client=parse_limits(block.get("client", {}), f"{where}: client"),
        clients={
            name: parse_limits(value, f"{where}: clients.{name}") for name, value in clients.items()
        },
        soft=float(soft),
        runaway=None if runaway is None else _runaway(runaway, f"{where}: runaway"),
    )


def parse_limits(data: object, where: str) -> Limits:
    block = json_object(data, where)
    no_unknown(block, _LIMIT_KEYS, where)
    models = block.get("models")
    if models is not None and (
        not isinstance(models, list) or not all(isinstance(m, str) and m for m in models)
    ):
        raise ConfigError(
            f'{where}: models must be a list of model names or patterns, e.g. ["claude-sonnet-*"].'
        )
    return Limits(
        requests_per_minute=_count(block, "requests_per_minute", where),
        tokens_per_hour=_count(block, "tokens_per_hour", where),
        usd_per_day=_dollars(block, "usd_per_day", where),
        usd_per_month=_dollars(block, "usd_per_month", where),
        models=tuple(models) if models is not None else None,
        window_share=_fraction(block, "window_share", where),
    )


def _fraction(block: dict[str, Any], name: str, where: str) -> float | None:
    value = block.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{where}: {name} must be a fraction above 0 and at most 1, e.g. 0.5.")
    return float(value)


def _runaway(data: object, where: str) -> Runaway:
    block = json_object(data, where)
    no_unknown(block, _RUNAWAY_KEYS, where)
    repeats = _count(block, "repeats", where)
    if repeats is not None and not 2 <= repeats <= MAX_REPEATS:
        raise ConfigError(
            f"{where}: repeats must be 2 to {MAX_REPEATS} (the same call twice in a row, at least)."
        )
    minutes = _count(block, "minutes", where)
    if minutes is not None and not 1 <= minutes <= 60:
        raise ConfigError(f"{where}: minutes must be 1 to 60.")
    refuse = block.get("refuse", False)
    if not isinstance(refuse, bool):
        raise ConfigError(f"{where}: refuse must be true or false.")
    usd = _dollars(block, "usd", where)
    if repeats is None and usd is None:
        raise ConfigError(f"{where}: set repeats, usd (with minutes), or both.")
    return Runaway(repeats=repeats, usd=usd, minutes=minutes or 10, refuse=refuse)


def _count(block: dict[str, Any], name: str, where: str) -> int | None:
    value = block.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: {name} must be a whole number, 0 or more.")
    return value


def _dollars(block: dict[str, Any], name: str, where: str) -> float | None:
    value = block.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}: {name} must be an amount in dollars, 0 or more.")
    return float(value)


def _first(value: Any, fallback: Any) -> Any:
    return value if value is not None else fallback
