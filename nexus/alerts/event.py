"""The alert record every source raises and every channel sends: what happened, where, to whom.

Owns the closed set of alert kinds and the ``Alert`` dataclass; knows nothing of queues, channels
or configuration. Sources build an ``Alert`` (usually through ``make_alert``) and hand it to an
``AlertSink`` (``nexus.alerts.sink``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AlertKind(StrEnum):
    """What an alert is about. The value is the ``kind`` field of the webhook JSON."""

    SOFT_LIMIT = "soft_limit"  # a limit or budget passed its soft share (default 80 %)
    HARD_LIMIT = "hard_limit"  # a call was refused with a 429 because a limit was reached
    RUNAWAY = "runaway"  # a session repeats itself or spends too fast (flagged or refused)
    WINDOW_FORECAST = "window_forecast"  # a 5h/7d window crossed a threshold or will run out
    UPSTREAM_ERRORS = "upstream_errors"  # a spike of upstream errors (5xx, 429, timeouts)
    OAUTH_REFRESH_FAILED = "oauth_refresh_failed"  # a host's OAuth token could not be refreshed
    TURN = "turn"  # one turn of a conversation (opt-in per host)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


DEFAULT_SEVERITY: Mapping[AlertKind, Severity] = {
    AlertKind.SOFT_LIMIT: Severity.WARNING,
    AlertKind.HARD_LIMIT: Severity.CRITICAL,
    AlertKind.RUNAWAY: Severity.CRITICAL,
    AlertKind.WINDOW_FORECAST: Severity.WARNING,
    AlertKind.UPSTREAM_ERRORS: Severity.WARNING,
    AlertKind.OAUTH_REFRESH_FAILED: Severity.CRITICAL,
    AlertKind.TURN: Severity.INFO,
}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id() -> str:
    return os.urandom(16).hex()  # as unique as a uuid4, at a quarter of its cost


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``host`` is the proxy host it concerns ("" for none: a global event); ``subject``
    names who or what it is about (a person's client-key name, an account, a session); ``fields``
    are ordered label/value pairs shown under the message (``("limit", "requests per minute")``).
    Alerts with the same ``dedup_key`` are sent once per cool-down (see ``nexus.alerts.config``);
    ``None`` means never deduplicated. Text is redacted again before it leaves Nexus."""

    kind: AlertKind
    host: str
    message: str
    subject: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    severity: Severity = Severity.WARNING
    dedup_key: str | None = None
    at_ms: int = field(default_factory=_now_ms)
    id: str = field(default_factory=_new_id)

    @property
    def title(self) -> str:
        """A one-line heading: kind, host and subject."""
        where = f" on {self.host}" if self.host else ""
        who = f" ({self.subject})" if self.subject else ""
        return f"{self.kind.value.replace('_', ' ')}{where}{who}"


def make_alert(
    kind: AlertKind,
    host: str,
    message: str,
    *,
    subject: str | None = None,
    fields: Mapping[str, object] | None = None,
    severity: Severity | None = None,
    dedup_key: str | None = None,
) -> Alert:
    """An ``Alert`` with its kind's default severity and ``fields`` turned into text pairs."""
    pairs = tuple((str(k), str(v)) for k, v in (fields or {}).items())
    return Alert(
        kind=kind,
        host=host,
        message=message,
        subject=subject,
        fields=pairs,
        severity=severity or DEFAULT_SEVERITY[kind],
        dedup_key=dedup_key,
    )
