"""The sender: drains an ``AlertQueue``, drops repeats, and delivers each alert to its destinations
with bounded retries and exponential backoff, beside the traffic and never in front of it.

One worker runs in each process that raises alerts (``nexus.server`` for the proxy process,
``nexus.recorder`` for the recorder child). Deliveries run concurrently (at most
``MAX_IN_FLIGHT``), so a destination that is down and backing off never delays another one. Retries
are kept in memory: alerts still failing when the process stops are logged and dropped (an alert
about a past minute is worth little after a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from nexus.aio import TaskSet
from nexus.alerts.channels import Channel, DeliveryError, make_channel
from nexus.alerts.config import AlertConfig, Destination, describe
from nexus.alerts.event import Alert
from nexus.alerts.sink import AlertQueue
from nexus.records import now_ms
from nexus.redact import remember_secrets

log = logging.getLogger("nexus.alerts")
MAX_IN_FLIGHT = 8
STOP_DEADLINE_S = 5.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """How sending one alert to one destination ended."""

    alert: Alert
    destination: str  # name and scheme://host, never the secret path
    is_sent: bool
    attempts: int
    error: str | None = None


Sleep = Callable[[float], Awaitable[None]]
Claim = Callable[[str, int, int], Awaitable[bool]]
"""``(dedup_key, now_ms, cooldown_ms) → may this process send it?`` (``Store.claim_alert``)."""


class AlertWorker:
    def __init__(
        self,
        queue: AlertQueue,
        config: AlertConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_delivery: Callable[[Delivery], None] | None = None,
        claim: Claim | None = None,
    ) -> None:
        self.queue = queue
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._on_delivery = on_delivery
        self._claim = claim  # shared deduplication (the store) across processes and replicas
        self._session: aiohttp.ClientSession | None = None
        self._channels: dict[str, Channel] = {}
        self._sent_at: dict[str, float] = {}  # dedup key → when last sent
        self._limit = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks = TaskSet()
        self.deliveries = 0
        self.failures = 0
        remember_secrets(*config.secrets())

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is queued until ``stop``; then send what is left, up to a deadline."""
        try:
            while not stop.is_set():
                for alert in await self.queue.get(timeout_s=1.0):
                    self.submit(alert)
            for alert in self.queue.drain():
                self.submit(alert)
            await self._tasks.wait(STOP_DEADLINE_S)
            if len(self._tasks):
                log.warning("%d alert deliveries still retrying at stop; dropped", len(self._tasks))
        finally:
            await self.close()

    def submit(self, alert: Alert) -> None:
        """Start sending ``alert`` in the background, unless it repeats a recent one."""
        dests = self.config.destinations_for(alert)
        if not dests or self._is_repeat(alert):
            return
        self._tasks.spawn(self._send_claimed(alert, dests), name=f"alert-{alert.kind.value}")

    async def _send_claimed(self, alert: Alert, dests: list[Destination]) -> None:
        """Send to every destination, once another process has not sent it within the
        cool-down. A claim that fails (database down) sends anyway: a repeat beats a silence."""
        if alert.dedup_key is not None and self._claim is not None:
            try:
                cooldown_ms = int(self.config.cooldown_s * 1000)
                if not await self._claim(alert.dedup_key, now_ms(), cooldown_ms):
                    return
            except Exception as exc:  # the store's errors, whatever the driver
                log.warning("alert deduplication unavailable (%s); sending %s anyway",
                            exc, alert.kind.value)  # fmt: skip
        await asyncio.gather(*(self._send_limited(alert, d) for d in dests))

    async def wait_idle(self, timeout_s: float) -> None:
        """Wait (up to ``timeout_s``) until every submitted alert was delivered or given up."""
        await self._tasks.wait(timeout_s)

    async def send(self, alert: Alert) -> list[Delivery]:
        """Send ``alert`` now to all its destinations (retrying) and say how each ended.
        No deduplication: ``nexus alerts test`` uses this."""
        dests = self.config.destinations_for(alert)
        return list(await asyncio.gather(*(self._send_limited(alert, d) for d in dests)))

    def _is_repeat(self, alert: Alert) -> bool:
        if alert.dedup_key is None:
            return False
        now = self._clock()
        last = self._sent_at.get(alert.dedup_key)
        if last is not None and now - last < self.config.cooldown_s:
            return True
        if len(self._sent_at) > 10_000:  # forget keys whose cool-down is over
            self._sent_at = {
                k: t for k, t in self._sent_at.items() if now - t < self.config.cooldown_s
            }
        self._sent_at[alert.dedup_key] = now
        return False

    async def _send_limited(self, alert: Alert, dest: Destination) -> Delivery:
        async with self._limit:
            try:
                result = await self._send_with_retries(alert, dest)
            except Exception as exc:  # a channel bug must not end the sender (top of the task)
                log.exception("sending alert %s to %s failed", alert.id, dest.name)
                result = Delivery(alert, describe(dest), False, 1, f"{type(exc).__name__}")
        self.deliveries += 1
        if not result.is_sent:
            self.failures += 1
            log.warning(
                "alert %s (%s) not delivered to %s after %d attempts: %s",
                alert.id, alert.kind.value, result.destination, result.attempts, result.error,
            )  # fmt: skip
        if self._on_delivery is not None:
            self._on_delivery(result)
        return result

    async def _send_with_retries(self, alert: Alert, dest: Destination) -> Delivery:
        retry = self.config.retry
        channel = await self._channel(dest)
        error = ""
        for attempt in range(1, retry.attempts + 1):
            try:
                await channel.deliver(alert)
                return Delivery(alert, describe(dest), True, attempt)
            except DeliveryError as exc:
                error = str(exc)
                if not exc.retryable or attempt == retry.attempts:
                    return Delivery(alert, describe(dest), False, attempt, error)
                wait = retry.delay_s(attempt)
                if exc.retry_after_s is not None:  # the receiver said when: no sooner, capped
                    wait = min(max(wait, exc.retry_after_s), retry.max_delay_s)
                log.info("alert to %s failed (%s); retrying in %.1f s", dest.name, error, wait)
                await self._sleep(wait)
        return Delivery(alert, describe(dest), False, retry.attempts, error)

    async def _channel(self, dest: Destination) -> Channel:
        channel = self._channels.get(dest.name)
        if channel is None:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            channel = make_channel(dest, self._session, self.config.retry.timeout_s)
            self._channels[dest.name] = channel
        return channel

    async def close(self) -> None:
        await self._tasks.close()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None
        self._channels.clear()
