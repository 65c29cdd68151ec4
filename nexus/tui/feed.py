"""The live feed as the TUI holds it: a buffer of received events, the resume point, and the
connection state, plus the loop that reads ``/api/events`` through the client.

The client reconnects by itself and reports ``connected`` / ``disconnected``; this loop turns those
into the state every screen shows, drops repeats by sequence number, and starts over (resuming after
``last_seq``) if the stream ever fails outright, for example on a refused key. It wakes the app
through ``on_ready`` once per burst (the app's message for it coalesces); the app drains ``take()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from nexus.records import LiveEvent

if TYPE_CHECKING:
    from nexus.tui.source import Source


class Link(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    link: Link
    detail: str = ""  # why the feed is not live
    retry_in_s: float | None = None

    @property
    def is_live(self) -> bool:
        return self.link is Link.LIVE


class LiveFeed:
    """Events received but not yet shown, where to resume, and the connection state."""

    def __init__(self, *, min_backoff_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        self.last_seq: int | None = None
        self.received = 0
        self.connects = 0
        self._buffer: list[LiveEvent] = []
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self.state = ConnectionState(Link.CONNECTING)

    def take(self) -> list[LiveEvent]:
        events, self._buffer = self._buffer, []
        return events

    def accept(self, event: LiveEvent) -> bool:
        """Buffer an event unless it was seen already (a replay after a reconnect)."""
        if self.last_seq is not None and event.seq <= self.last_seq:
            return False
        self.last_seq = event.seq
        self._buffer.append(event)
        self.received += 1
        return True

    async def follow(
        self,
        source: Source,
        on_ready: Callable[[], None],
        on_state: Callable[[ConnectionState], None],
        on_connect: Callable[[bool], object] | None = None,
    ) -> None:
        """Read the feed until cancelled. ``on_connect(resumed)`` runs on every connect; ``resumed``
        is False only for the first, which starts "from now" rather than from a known event."""
        backoff = self._min_backoff_s
        while True:
            try:
                async for event in source.events(after=self.last_seq, include_status=True):
                    if event.kind == "connected":
                        resumed = self.connects > 0
                        self.connects += 1
                        if self.last_seq is None:
                            self.last_seq = event.seq  # the server's "now": resume from here
                        backoff = self._min_backoff_s
                        self._set(ConnectionState(Link.LIVE), on_state)
                        if on_connect is not None:
                            on_connect(resumed)
                    elif event.kind == "disconnected":
                        self._set(
                            ConnectionState(Link.RECONNECTING, "lost the connection"), on_state
                        )
                    elif self.accept(event):
                        on_ready()
                message = "the live feed ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a refusal (bad key) or a broken stream: say so, retry
                message = str(exc) or type(exc).__name__
            self._set(ConnectionState(Link.RECONNECTING, message, retry_in_s=backoff), on_state)
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff_s, backoff * 2)

    def _set(self, state: ConnectionState, on_state: Callable[[ConnectionState], None]) -> None:
        if state != self.state:
            self.state = state
            on_state(state)
