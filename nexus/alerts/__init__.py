"""Alerts: what Nexus tells a team where it talks (Slack, any HTTP webhook), never from the hot path.

How a source raises an alert (limits, runaway guard, OAuth refresh, detectors in the recorder)::

    from nexus.alerts import AlertKind, AlertSink, make_alert

    def on_refused(sink: AlertSink, host: str, person: str) -> None:
        sink.notify(make_alert(
            AlertKind.HARD_LIMIT, host, "alice is over 60 requests per minute",
            subject=person, fields={"limit": "requests per minute", "resets": "12:04 UTC"},
            dedup_key=f"hard_limit:{host}:{person}:rpm",
        ))

- ``AlertSink.notify(alert)`` is synchronous, returns at once and never raises: it appends to a
  bounded in-memory ``AlertQueue`` (oldest dropped and counted when full). Components take an
  ``AlertSink`` argument (default ``NO_ALERTS``); the composition root passes the real queue.
- A sender worker in the same process (``nexus.alerts.worker``) drains the queue, drops alerts
  whose ``dedup_key`` was sent within the cool-down, routes each to the channels configured for
  its host and kind (``nexus.alerts.config``: ``alerts.json`` beside the credential files) and
  sends with bounded retries and exponential backoff. Every text is redacted before it is sent.
- Two processes raise alerts and each runs its own worker: the proxy process (soft and hard
  limits and runaway sessions, decided before forwarding; failed OAuth refreshes) and the
  recorder child (upstream error spikes, window forecasts and per-turn messages, by
  ``nexus.alerts.watch`` from every stored record, refused calls included). See docs/alerts.md.
"""

from __future__ import annotations

from nexus.alerts.event import DEFAULT_SEVERITY, Alert, AlertKind, Severity, make_alert
from nexus.alerts.sink import NO_ALERTS, AlertQueue, AlertSink

__all__ = [
    "DEFAULT_SEVERITY",
    "NO_ALERTS",
    "Alert",
    "AlertKind",
    "AlertQueue",
    "AlertSink",
    "Severity",
    "make_alert",
]
