"""SQLite's side of the live feed: one process owns the file, so its own bus hears every commit."""

from __future__ import annotations

from collections.abc import Callable

from nexus.store.events import EventsCore


class EventsMixin(EventsCore):
    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        return None
