"""The Store protocol: every intent-named operation the layers above need, and the rows it returns.

Two implementations satisfy it, ``SqliteStore`` and ``PostgresStore``; only ``server.py`` and
``cli/`` build one (``open_store``). Writes are idempotent by request id, so replaying the spool or
running several processes never duplicates a record. Drivers' exceptions never leave a store: they
become ``StoreUnavailable`` (the database is down; the writer spools) or propagate as bugs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from nexus.records import (
    Link,
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
