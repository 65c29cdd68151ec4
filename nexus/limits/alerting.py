"""What the limiter tells people: soft and hard limits reached, runaway sessions.

The one seam between limits and notifications: the limiter calls an ``AlertSink`` (never awaits
it). ``limit_alerts`` logs each alert (one warning line: the record that always exists) and hands
it to ``nexus.alerts``, whose sink only appends to a bounded queue that a sender task drains beside
the traffic (Slack, webhooks: docs/alerts.md). Messages carry names, amounts and times, never a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from nexus import alerts

log = logging.getLogger("nexus.limits")

AlertKind = Literal["soft_limit", "hard_limit", "runaway"]


@dataclass(frozen=True, slots=True)
class LimitAlert:
    kind: AlertKind
    scope: str  # "client alice@team.example", "host team.example", "session 4f1c…"
    message: str
    at_ms: int
    host: str | None = None


AlertSink = Callable[[LimitAlert], None]


def log_alert(alert: LimitAlert) -> None:
    log.warning("%s: %s", alert.kind.replace("_", " "), alert.message)


def limit_alerts(sink: alerts.AlertSink) -> AlertSink:
    """An ``AlertSink`` for the limiter that logs and forwards to ``nexus.alerts``."""
    from nexus.alerts import AlertKind, make_alert

    kinds = {
        "soft_limit": AlertKind.SOFT_LIMIT,
        "hard_limit": AlertKind.HARD_LIMIT,
        "runaway": AlertKind.RUNAWAY,
    }

    def send(alert: LimitAlert) -> None:
        log_alert(alert)
        sink.notify(
            make_alert(
                kinds[alert.kind],
                alert.host or "",  # "": no host, the global destinations (nexus.alerts)
                alert.message,
                subject=alert.scope,
                dedup_key=f"{alert.kind}:{alert.scope}:{alert.message}",
            )
        )

    return send
