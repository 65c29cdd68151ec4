"""What an alert looks like on the wire: the webhook JSON (schema in docs/alerts.md) and a Slack
message. Every text goes through ``nexus.redact`` here, the one exit all channels share, so no
secret leaves Nexus whatever a source put into an alert.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from nexus import __version__
from nexus.alerts.event import Alert, Severity
from nexus.redact import redact_text

SCHEMA_VERSION = 1
MAX_TEXT_CHARS = 3000  # Slack's limit for a section block's text
_ICON = {
    Severity.INFO: ":speech_balloon:",
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":rotating_light:",
}


def redacted(alert: Alert) -> Alert:
    """``alert`` with every text field scrubbed of secrets and key shapes."""
    return dataclasses.replace(
        alert,
        host=redact_text(alert.host),
        message=redact_text(alert.message),
        subject=redact_text(alert.subject) if alert.subject else alert.subject,
        fields=tuple((redact_text(k), redact_text(v)) for k, v in alert.fields),
    )


def alert_json(alert: Alert) -> dict[str, Any]:
    """The webhook body (schema version 1)."""
    a = redacted(alert)
    return {
        "schema": SCHEMA_VERSION,
        "id": a.id,
        "kind": a.kind.value,
        "severity": a.severity.value,
        "host": a.host or None,
        "subject": a.subject,
        "title": a.title,
        "message": a.message,
        "fields": [{"name": k, "value": v} for k, v in a.fields],
        "at": datetime.fromtimestamp(a.at_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
        "at_ms": a.at_ms,
        "source": {"app": "nexus", "version": __version__},
    }


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (notifications and fallback) and Block Kit blocks."""
    a = redacted(alert)
    heading = f"{_ICON[a.severity]} *{_escape(a.title)}*"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(f"{heading}\n{_escape(a.message)}")},
        }
    ]
    if a.fields:
        lines = "\n".join(f"*{_escape(k)}*: {_escape(v)}" for k, v in a.fields)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(lines)}})
    return {"text": _clip(f"{a.title}: {a.message}"), "blocks": blocks}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"
