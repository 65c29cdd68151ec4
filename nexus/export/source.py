"""Where exports read from: the two calls every exporter needs, satisfied alike by a local ``Store``
(SQLite or Postgres) and by the read-API ``NexusClient``, plus the paging loops built on them.

This module owns reading for export: it walks the cursor pages so no exporter ever holds more than
one page of summaries and a handful of full records at a time. One conversation is read by
``nexus.conversations.reading``. It does not open stores or clients;
``nexus.cli.export`` builds the concrete source and passes it in.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

from nexus.conversations.reading import ConversationSource
from nexus.errors import NexusError
from nexus.records import RequestFilter, RequestSummary, StoredRequest

PAGE_SIZE = 200
CONCURRENCY = 8  # full records fetched at once: hides per-call latency of a remote API

ProgressCallback = Callable[[int], None]


class RequestNotFound(NexusError):
    """No such request."""


@runtime_checkable
class ExportSource(ConversationSource, Protocol):
    """The reads an export needs: a conversation's (``ConversationSource``) and full records.
    ``Store`` and ``NexusClient`` both have these shapes."""

    async def get_request(self, request_id: str) -> StoredRequest | None: ...


@runtime_checkable
class CountingSource(Protocol):
    """Sources that can count cheaply give the progress bar a total."""

    async def count_requests(self, flt: RequestFilter) -> int: ...


async def count_or_none(source: ExportSource, flt: RequestFilter) -> int | None:
    if isinstance(source, CountingSource):
        return await source.count_requests(flt)
    return None


async def iter_summaries(
    source: ExportSource, flt: RequestFilter, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[RequestSummary]:
    """Every summary matching ``flt``, newest first, one page in memory at a time."""
    cursor: str | None = None
    while True:
        page = await source.list_requests(flt, cursor, page_size)
        for item in page.items:
            yield item
        if page.next_cursor is None or not page.items:
            return
        cursor = page.next_cursor


async def iter_records(
    source: ExportSource,
    flt: RequestFilter,
    *,
    branch: str | None = None,
    page_size: int = PAGE_SIZE,
    concurrency: int = CONCURRENCY,
) -> AsyncIterator[StoredRequest]:
    """Full records matching ``flt`` (and ``branch``), newest first.

    At most ``concurrency`` full records are in memory at once. A record deleted between the list
    and the fetch (a concurrent prune) is skipped.
    """
    batch: list[str] = []
    async for summary in iter_summaries(source, flt, page_size=page_size):
        if branch is not None and summary.branch != branch:
            continue
        batch.append(summary.id)
        if len(batch) >= concurrency:
            for record in await _fetch_many(source, batch):
                yield record
            batch = []
    for record in await _fetch_many(source, batch):
        yield record


async def _fetch_many(source: ExportSource, ids: list[str]) -> list[StoredRequest]:
    if not ids:
        return []
    if len(ids) == 1:
        found = [await source.get_request(ids[0])]
    else:
        found = await asyncio.gather(*(source.get_request(i) for i in ids))
    return [r for r in found if r is not None]


async def fetch_request(source: ExportSource, request_id: str) -> StoredRequest:
    record = await source.get_request(request_id)
    if record is None:
        raise RequestNotFound(f"request {request_id} not found")
    return record


def with_conversation(flt: RequestFilter, conversation_id: str | None) -> RequestFilter:
    if conversation_id is None:
        return flt
    return dataclasses.replace(flt, conversation_id=conversation_id)
