"""Postgres's side of the live feed: hearing other processes' commits through LISTEN.

Every transaction that adds events sends ``NOTIFY nexus_events`` at commit (the connection layer
does it). ``wait_for_notifications`` holds one dedicated connection listening on that channel and
turns each notification into a wake-up of this process's event bus; the readers themselves read
the events table, so the payload is empty and coalesced notifications lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg

from nexus.errors import StoreUnavailable
from nexus.store.events import EventsCore
from nexus.store.postgres.connection import map_store_errors

CHANNEL = "nexus_events"
_PING_S = 30.0  # a silent dead TCP connection is only noticed when something is sent on it


class EventsMixin(EventsCore):
    dsn: str

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        with map_store_errors():
            conn: asyncpg.Connection = await asyncpg.connect(self.dsn, timeout=10)
        lost = asyncio.Event()

        def heard(*_: Any) -> None:
            on_notify()

        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            with map_store_errors():
                await conn.add_listener(CHANNEL, heard)
            on_notify()  # commits made before LISTEN took effect are read now
            while True:
                try:
                    await asyncio.wait_for(lost.wait(), _PING_S)
                except TimeoutError:
                    with map_store_errors():
                        await conn.execute("SELECT 1", timeout=10)
                    continue
                raise StoreUnavailable("Postgres: the LISTEN connection was closed")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()
