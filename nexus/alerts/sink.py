"""Where sources put alerts: a sink whose ``notify`` never blocks, never raises, never awaits.

``AlertSink`` is the seam every source depends on (the proxy's limits and OAuth refresh, the
recorder's detectors). ``AlertQueue`` is the real one: a bounded in-memory queue that a sender
worker (``nexus.alerts.worker``) drains; when it is full the oldest alert is dropped and counted,
so a storm of alerts costs memory bounded by ``capacity`` and the hot path never waits.
``NO_ALERTS`` is the sink for components built without alerting (tests, commands).
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Protocol

from nexus.alerts.event import Alert

DEFAULT_CAPACITY = 1000


class AlertSink(Protocol):
    def notify(self, alert: Alert) -> None:
        """Take ``alert`` for sending later; returns at once, never raises."""
        ...


class _NoAlerts:
    def notify(self, alert: Alert) -> None:
        return None


NO_ALERTS: AlertSink = _NoAlerts()


class AlertQueue:
    """A bounded queue of alerts: ``notify`` from any thread, ``get`` from the worker's loop."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._items: collections.deque[Alert] = collections.deque()
        self.capacity = capacity
        self.dropped = 0  # alerts pushed out by newer ones when the queue was full
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._items)

    def notify(self, alert: Alert) -> None:
        with self._lock:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(alert)
        self._signal()

    def _signal(self) -> None:
        wake, loop = self._wake, self._loop
        if wake is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:  # another thread (or loop): hand the wake-up to the worker's loop
            loop.call_soon_threadsafe(wake.set)

    def drain(self) -> list[Alert]:
        """Every queued alert, oldest first, leaving the queue empty."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    async def get(self, timeout_s: float | None = None) -> list[Alert]:
        """Wait (up to ``timeout_s``) until alerts are queued, then take them all."""
        if self._wake is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        while not self._items:
            self._wake.clear()
            if self._items:
                break
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                return []
        return self.drain()
