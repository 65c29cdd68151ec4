"""The two channels an alert can go through: a Slack incoming webhook (``slack-sdk``'s
``AsyncWebhookClient``) and a signed JSON webhook. One attempt per ``deliver`` call; retries and
backoff are the worker's (``nexus.alerts.worker``), so the SDK's own retry handlers are off.

A failed attempt raises ``DeliveryError`` saying whether trying again can help: connection
errors, timeouts, 408, 429 and 5xx can; Slack's ``invalid_token``/``no_service``/``channel_not_found``
and other 4xx answers cannot (the configuration is wrong).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Protocol

import aiohttp
import orjson
from slack_sdk.webhook.async_client import AsyncWebhookClient

from nexus.alerts.config import Destination, describe
from nexus.alerts.event import Alert
from nexus.alerts.render import alert_json, slack_message
from nexus.alerts.signing import ALERT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from nexus.redact import redact_text

_RETRYABLE = frozenset({408, 425, 429})
MAX_ERROR_CHARS = 200
# slack-sdk logs the webhook URL (its token) at DEBUG: keep its logger above that.
_SLACK_LOG = logging.getLogger("nexus.alerts.slack")
_SLACK_LOG.setLevel(logging.INFO)


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class Channel(Protocol):
    destination: Destination

    async def deliver(self, alert: Alert) -> None:
        """Send ``alert`` once; raise ``DeliveryError`` if it did not arrive."""
        ...


def _is_retryable(status: int) -> bool:
    return status >= 500 or status in _RETRYABLE


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _refused(status: int, body: str, retry_after: str | None) -> DeliveryError:
    text = redact_text(body.strip()[:MAX_ERROR_CHARS]) or "no body"
    return DeliveryError(
        f"HTTP {status}: {text}",
        retryable=_is_retryable(status),
        retry_after_s=_retry_after(retry_after),
    )


class SlackChannel:
    def __init__(self, destination: Destination, session: aiohttp.ClientSession, timeout_s: float):
        self.destination = destination
        self._client = AsyncWebhookClient(
            destination.url,
            timeout=max(1, round(timeout_s)),
            session=session,
            retry_handlers=[],
            logger=_SLACK_LOG,
        )

    async def deliver(self, alert: Alert) -> None:
        try:
            answer = await self._client.send_dict(slack_message(alert))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(_failure(exc), retryable=True) from exc
        body = answer.body or ""
        if answer.status_code == 200 and body.strip() == "ok":
            return
        raise _refused(answer.status_code, body, (answer.headers or {}).get("Retry-After"))


class WebhookChannel:
    def __init__(self, destination: Destination, session: aiohttp.ClientSession, timeout_s: float):
        self.destination = destination
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, alert: Alert) -> None:
        body = orjson.dumps(alert_json(alert))
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "nexus-alerts/1",
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(self.destination.secret or "", now, body),
            ALERT_ID_HEADER: alert.id,
        }
        try:
            async with self._session.post(
                self.destination.url, data=body, headers=headers, timeout=self._timeout
            ) as answer:
                text = await answer.text(errors="replace")
                if 200 <= answer.status < 300:
                    return
                raise _refused(answer.status, text, answer.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(_failure(exc), retryable=True) from exc


def _failure(exc: BaseException) -> str:
    """Why a delivery did not arrive, in words a person reads in ``nexus alerts test``: the
    library's exception names (``ClientConnectorError … ssl:default``) say nothing to them."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the certificate of {exc.host} was not accepted: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect to {exc.host}:{exc.port}: {_os_reason(exc.os_error)}"
    return redact_text(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]


def _os_reason(error: OSError) -> str:
    # asyncio words a refused connection "Connect call failed ('h', p)"; errno says it plainly.
    if isinstance(error, socket.gaierror):
        return f"no such host ({error.strerror})"
    if isinstance(error.errno, int) and error.errno > 0:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


def make_channel(
    destination: Destination, session: aiohttp.ClientSession, timeout_s: float
) -> Channel:
    if destination.type == "slack":
        return SlackChannel(destination, session, timeout_s)
    return WebhookChannel(destination, session, timeout_s)


__all__ = ["Channel", "DeliveryError", "SlackChannel", "WebhookChannel", "describe", "make_channel"]
