"""The in-process event bus and the Postgres NOTIFY bridge that feed ``GET /api/events``.

The bus carries no data, only a wake-up: the events table is the single source of truth, so a
reader that is woken reads every event after its own cursor, and a lost or coalesced wake-up costs
latency, never events (readers also poll on a timer). Writers call ``EventBus.notify()`` after each
commit that appended events; on Postgres ``listen_for_events`` turns other processes'
``NOTIFY nexus_events`` into the same wake-up. This module owns neither the events table (the
store does) nor the SSE framing (``nexus.api.routes.events`` does).
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import TYPE_CHECKING

from nexus.errors import StoreUnavailable

if TYPE_CHECKING:
    from nexus.store.base import EventStore

log = logging.getLogger("nexus.events")


class Subscription:
    """One reader's wake-up flag: set by every ``notify()`` since the reader last woke."""

    __slots__ = ("_bus", "_flag")

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._flag = asyncio.Event()

    def _wake(self) -> None:
        self._flag.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a wake-up; True when woken (or the bus closed), False after ``timeout_s``."""
        if self._bus.is_closed:
            return True
        if self._flag.is_set():
            self._flag.clear()
            return True
        try:
            await asyncio.wait_for(self._flag.wait(), timeout_s)
        except TimeoutError:
            return False
        self._flag.clear()
        return True

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Wakes every live-feed reader of this process. Create it in the event loop that uses it."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        """A new reader's flag; subscribe before the first read so no wake-up falls in between."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        sub = Subscription(self)
        self._subscriptions.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def notify(self) -> None:
        """Events were committed: wake every reader. Call on the loop's thread; never blocks."""
        for sub in tuple(self._subscriptions):
            sub._wake()

    def notify_threadsafe(self) -> None:
        """``notify()`` for callers on another thread (a driver callback, a sync writer)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notify)

    def close(self) -> None:
        """Shutting down: wake every reader so live streams end instead of holding the server."""
        self._closed = True
        self.notify()


async def listen_for_events(
    store: EventStore, bus: EventBus, *, retry_s: float = 1.0, max_retry_s: float = 30.0
) -> None:
    """Bridge other processes' commits into ``bus`` until cancelled; returns at once on SQLite.

    ``server.py`` spawns this in its TaskSet. When the listening connection is lost it reconnects
    with backoff and wakes readers after each reconnect, since notifications sent while it was away
    are gone (the readers' own cursors make the catch-up exact).
    """
    loop = asyncio.get_running_loop()
    delay = retry_s
    while True:
        started = loop.time()
        try:
            await store.wait_for_notifications(bus.notify)
        except StoreUnavailable as exc:
            if loop.time() - started > max_retry_s:
                delay = retry_s  # it was up for a while: this is a new outage, not the same one
            log.warning("event listener lost its connection (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_s)
            bus.notify()
            continue
        return
