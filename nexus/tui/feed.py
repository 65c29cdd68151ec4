"""The live feed as the TUI holds it: a buffer of received events, the resume point, and the
connection state, plus the loop that reads ``/api/events`` through the client.

The client reconnects by itself and reports ``connected`` / ``disconnected``; this loop turns those
into the state every screen shows, drops repeats by sequence number, and starts over (resuming after
``last_seq``) if the stream ever fails outright. A refused key (401/403) is final: the state says so
once and nothing retries, since asking again with the same key cannot succeed. It wakes the app
through ``on_ready`` once per burst (the app's message for it coalesces); the app drains ``take()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from nexus.errors import ApiError
from nexus.records import LiveEvent

if TYPE_CHECKING:
    from nexus.tui.source import Source


class Link(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    REFUSED = "refused"  # the server refused the API key: final until the TUI is restarted


# While the server is away the client tries again this often at most: a restarted server is
# picked up within ~1 s (a refused connect to it costs next to nothing).
RECONNECT_EVERY_S = 1.0


def refusal_text(error: ApiError) -> str:
    """A 401/403 of the read API in a user's words: which key setting to fix."""
    if error.status == 401:
        return "API key refused: check --key / DASHBOARD_API_KEY"
    return "the server takes only local clients: pass --key / DASHBOARD_API_KEY"


def is_refusal(error: BaseException | None) -> bool:
    return isinstance(error, ApiError) and error.status in (401, 403)


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

    def __init__(
        self, *, min_backoff_s: float = 0.5, max_backoff_s: float = RECONNECT_EVERY_S * 2
    ) -> None:
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
                async for event in source.events(
                    after=self.last_seq, include_status=True, max_retry_s=RECONNECT_EVERY_S
                ):
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
            except ApiError as exc:
                if is_refusal(exc):
                    self._set(ConnectionState(Link.REFUSED, refusal_text(exc)), on_state)
                    return
                message = str(exc) or type(exc).__name__
            except Exception as exc:  # a broken stream: say so, retry
                message = str(exc) or type(exc).__name__
            self._set(ConnectionState(Link.RECONNECTING, message, retry_in_s=backoff), on_state)
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff_s, backoff * 2)

    def _set(self, state: ConnectionState, on_state: Callable[[ConnectionState], None]) -> None:
        if state != self.state:
            self.state = state
            on_state(state)
