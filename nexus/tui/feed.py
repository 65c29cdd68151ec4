"""The live feed as the TUI holds it: a buffer of received events, the resume point, and the
connection state, plus the loop that reads ``/api/events`` and reconnects after a failure.

The loop keeps ``last_seq`` itself and resumes after it on every connect, so a server restart or a
dropped connection costs latency, never an event. It wakes the app through ``on_ready`` at most
once per burst (the app's message for it coalesces), and the app drains ``take()``.
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
    detail: str = ""  # the last error while not live
    retry_in_s: float | None = None
    resumed_from: int | None = None

    @property
    def is_live(self) -> bool:
        return self.link is Link.LIVE


class LiveFeed:
    """Events received but not yet shown, and where to resume."""

    def __init__(
        self,
        *,
        min_backoff_s: float = 0.25,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.last_seq: int | None = None
        self.received = 0
        self.reconnects = 0
        self._buffer: list[LiveEvent] = []
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self.state = ConnectionState(Link.CONNECTING)

    def take(self) -> list[LiveEvent]:
        events, self._buffer = self._buffer, []
        return events

    def _accept(self, event: LiveEvent) -> bool:
        if self.last_seq is not None and event.seq <= self.last_seq:
            return False  # a replay after a reconnect: already have it
        self.last_seq = event.seq
        self._buffer.append(event)
        self.received += 1
        return True

    async def follow(
        self,
        source: Source,
        on_ready: Callable[[], None],
        on_state: Callable[[ConnectionState], None],
        *,
        on_connect: Callable[[], object] | None = None,
    ) -> None:
        """Read the feed until cancelled. Before each connect a cheap call proves the server
        answers (a quiet stream says nothing for a while); ``on_connect`` runs after it."""
        backoff = self._min_backoff_s
        while True:
            try:
                await source.list_requests(limit=1)
                self._set(ConnectionState(Link.LIVE, resumed_from=self.last_seq), on_state)
                if on_connect is not None:
                    on_connect()
                backoff = self._min_backoff_s
                async for event in source.events(after=self.last_seq):
                    if self._accept(event):
                        on_ready()
                message = "the server closed the live feed"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the stream: say so, wait, resume
                message = str(exc) or type(exc).__name__
            self.reconnects += 1
            self._set(ConnectionState(Link.RECONNECTING, message, retry_in_s=backoff), on_state)
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff_s, backoff * 2)

    def _set(self, state: ConnectionState, on_state: Callable[[ConnectionState], None]) -> None:
        if state != self.state:
            self.state = state
            on_state(state)
