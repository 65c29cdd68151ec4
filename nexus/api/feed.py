"""The live feed's shared tail: the newest events, read from the store once and framed once, for
every subscriber of this process.

Without it each subscriber reads and serialises every event itself, so 200 clients replaying the
feed did 200 times the work on the event loop the proxy shares (its p99 went from 22 ms to 918 ms).
``FeedTail`` keeps the SSE frames of the last ``size`` events; a subscriber whose cursor is inside
that window is served by slicing bytes, and only a reader that has reached the newest event asks
the store for more, once per wake-up however many wait (the others find it done). A cursor older
than the window is read from the store directly, by at most ``readers`` subscribers at a time.
This module owns neither the events table (the store) nor the route (``routes/events.py``).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from typing import Any

from nexus.api.serialize import event_frames


class FeedTail:
    def __init__(self, size: int = 1000, batch: int = 100, readers: int = 2) -> None:
        self.size, self.batch = size, batch
        self._seqs: list[int] = []  # ascending; _frames[i] is the frame of event _seqs[i]
        self._frames: list[bytes] = []
        self._low: int | None = None  # every event with _low < seq <= _high is held
        self._high = 0
        self._generation = 0
        self._lock = asyncio.Lock()
        self._readers = asyncio.Semaphore(readers)

    async def read(self, store: Any, cursor: int) -> tuple[bytes, int, bool]:
        """Frames of the events after ``cursor`` (at most ``batch``), the new cursor, and whether
        more are waiting."""
        refreshed = self._low is None or cursor >= self._high
        if refreshed:
            await self._refresh(store)
        assert self._low is not None
        if cursor < self._low:  # older than the window: from the store, a few at a time
            async with self._readers:
                events = await store.events_after(cursor, self.batch)
                frames = event_frames(events) if events else b""
            return frames, events[-1].seq if events else cursor, len(events) == self.batch
        start = bisect_right(self._seqs, cursor)
        end = min(start + self.batch, len(self._seqs))
        if start == end:
            return b"", cursor, False
        # Served up to the window's end without asking the store: it may hold newer events.
        more = end < len(self._seqs) or not refreshed
        return b"".join(self._frames[start:end]), self._seqs[end - 1], more

    async def _refresh(self, store: Any) -> None:
        seen = self._generation
        async with self._lock:
            if self._generation != seen:
                return  # another subscriber refreshed while this one waited
            if self._low is None:
                last = await store.last_event_seq()
                self._low = self._high = max(0, last - self.size)
            while True:
                events = await store.events_after(self._high, self.batch)
                for event in events:
                    self._seqs.append(event.seq)
                    self._frames.append(event_frames((event,)))
                if events:
                    self._high = events[-1].seq
                if len(events) < self.batch:
                    break
            if len(self._seqs) > 2 * self.size:  # trim now and then, not on every event
                cut = len(self._seqs) - self.size
                self._low = self._seqs[cut - 1]
                del self._seqs[:cut], self._frames[:cut]
            self._generation += 1
