"""The Store protocol: every intent-named operation the layers above need, and the rows it returns.

Two implementations satisfy it, ``SqliteStore`` and ``PostgresStore``; only ``server.py`` and
``cli/`` build one (``open_store``). Writes are idempotent by request id, so replaying the spool or
running several processes never duplicates a record. Drivers' exceptions never leave a store: they
become ``StoreUnavailable`` (the database is down; the writer spools) or propagate as bugs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from nexus.records import (
    Link,
    LiveEvent,
    Page,
    RequestFilter,
    RequestRecord,
    RequestSummary,
    StoredRequest,
)


@dataclass(frozen=True, slots=True)
class StoreStats:
    requests: int
    bytes_received: int  # request + response bytes as they crossed the proxy
    unique_content_bytes: int  # distinct messages, system prompts and tool lists
    database_bytes: int  # size on disk (file or pg_database_size)
    blobs: int
    oldest_ms: int | None
    newest_ms: int | None


@runtime_checkable
class Store(Protocol):
    """What Nexus asks of a database. Every method may raise ``StoreUnavailable``."""

    dialect: str  # "sqlite" | "postgres"

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    # -- requests -----------------------------------------------------------------------------
    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        """Write records in one transaction; a record whose id is already stored is skipped."""

    async def get_request(self, request_id: str) -> StoredRequest | None: ...

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        """Summaries newest first; ``cursor`` is the ``next_cursor`` of the previous page."""

    async def count_requests(self, flt: RequestFilter) -> int: ...

    # -- links (conversation engine) ----------------------------------------------------------
    async def write_links(self, links: Sequence[Link]) -> None:
        """Store where the linker placed requests (replacing an earlier link for the same id)."""

    # -- maintenance --------------------------------------------------------------------------
    async def stats(self) -> StoreStats: ...

    async def prune(self, older_than_ms: int) -> int:
        """Delete requests that started before ``older_than_ms`` and content nothing else uses;
        give the space back. Returns the number of requests deleted."""

    async def backup(self, path: Path) -> None: ...


# -- api area: live feed and search (owner: api engineer) --------------------------------------
class EventStore(Protocol):
    """The ``events`` table read back as the live feed, and the cross-process wake-up.

    Writers append events in the transaction that made the change (``request`` by write_batch,
    ``link`` by write_links, ``analysis`` by the analysis jobs); seq order is commit order.
    """

    async def events_after(self, after_seq: int, limit: int = 500) -> list[LiveEvent]:
        """Events with ``seq > after_seq`` in seq order, summaries joined for request/link events."""

    async def last_event_seq(self) -> int:
        """The newest committed seq (0 for an empty feed)."""

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """Call ``on_notify`` whenever any process commits events, until cancelled.

        Postgres: ``LISTEN nexus_events`` on a dedicated connection; raises ``StoreUnavailable`` when
        that connection is lost. SQLite (one process owns the file): returns at once.
        """
