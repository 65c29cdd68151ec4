"""Messages that cross screens: the live feed waking the app, and the results of I/O workers.

Messages a single widget sends (``RequestTable.Selected``) live in that widget; the ones here are
posted by workers and read by whichever screen started them. Each carries a record, never a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from nexus.records import (
    ConversationSummary,
    ConversationTree,
    Page,
    RequestSummary,
    StoredRequest,
)
from nexus.tui.paging import PageRequest


@dataclass
class FeedReady(Message):
    """The live feed buffered new events: drain ``LiveFeed.take()``. Bursts coalesce into one."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedReady)


@dataclass
class RequestPageLoaded(Message):
    request: PageRequest
    page: Page[RequestSummary]
    generation: int = 0


@dataclass
class RequestCount(Message):
    """How many requests match the filter the count was asked for."""

    query_text: str
    count: int


@dataclass
class ConversationPageLoaded(Message):
    page: Page[ConversationSummary]
    append: bool


@dataclass
class RequestLoaded(Message):
    stored: StoredRequest


@dataclass
class WireLoaded(Message):
    """A response's bytes exactly as the upstream sent them (SSE text for streams)."""

    request_id: str
    body: bytes


@dataclass
class ConversationLoaded(Message):
    tree: ConversationTree
    uses_1m_beta: bool = False


@dataclass
class UsageLoaded(Message):
    usage: dict[str, Any]  # by account and time bucket
    windows: dict[str, Any]
    totals: dict[str, Any]  # by account
    cache: dict[str, Any] | None = None  # the cache ledger of the period (None: not to be had)


@dataclass
class AnalysisChanged(Message):
    """An analysis job was started or changed: ``job`` is the API's job document."""

    job: dict[str, Any]


@dataclass
class LoadFailed(Message):
    """A worker could not load what a screen asked for; ``what`` names it for the person."""

    what: str
    error: str
