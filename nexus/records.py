"""The frozen records every layer shares: what the proxy captured, what the recorder derived from it,
how the linker placed it, and the summary rows that lists read.

Raw JSON stays ``bytes`` here; the layer that needs a structure parses it once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

Headers = tuple[tuple[str, str], ...]


class TrafficClass(StrEnum):
    TURN = "turn"
    SUBAGENT = "subagent"
    COMPACTION = "compaction"
    QUOTA = "quota"
    COUNT_TOKENS = "count_tokens"
    TITLE = "title"
    TOPIC = "topic"
    SUMMARY = "summary"
    WARMUP = "warmup"
    SUGGESTION = "suggestion"
    OTHER = "other"


class Outcome(StrEnum):
    """How an exchange ended, as seen by the proxy."""

    COMPLETE = "complete"  # the upstream answered (any status) and the client got all of it
    REJECTED = "rejected"  # Nexus refused the request itself (bad input, bad client key)
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_RESET = "upstream_reset"  # the upstream connection broke mid-response
    CLIENT_DISCONNECTED = "client_disconnected"


def new_id(now_ms: int | None = None) -> str:
    """A UUIDv7 as 32 hex digits: globally unique across processes, sortable by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & 0x3FFF_FFFF_FFFF_FFFF
    return f"{value:032x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one response, as Anthropic reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @property
    def context_tokens(self) -> int:
        """Tokens the model read as context: fresh input plus cache writes and reads."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange exactly as the proxy saw it. Secrets are already redacted from headers."""

    id: str
    started_at_ms: int
    ended_at_ms: int
    first_byte_at_ms: int | None
    method: str
    path: str  # without the query string
    query: str  # without the leading "?"
    host: str
    request_headers: Headers
    request_body: bytes
    status: int | None  # None when no response came from the upstream
    response_headers: Headers
    response_body: bytes  # raw bytes as received: SSE text or JSON
    outcome: Outcome = Outcome.COMPLETE
    error: str | None = None
    account_id: str | None = None
    client_key_id: str | None = None  # a non-secret fingerprint of the client key
    auth_mode: str = "passthrough"  # passthrough | api_key | oauth

    @property
    def duration_ms(self) -> int:
        return self.ended_at_ms - self.started_at_ms

    @property
    def ttfb_ms(self) -> int | None:
        return None if self.first_byte_at_ms is None else self.first_byte_at_ms - self.started_at_ms

    def request_header(self, name: str) -> str | None:
        return _header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return _header(self.response_headers, name)


def _header(headers: Headers, name: str) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """An exchange plus what the recorder derived from it; what the store writes."""

    exchange: Exchange
    model: str | None = None
    is_streaming: bool = False
    session_id: str | None = None
    agent_id: str | None = None
    parent_agent_id: str | None = None
    response_message: bytes | None = None  # the assembled message as JSON (orjson)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    ratelimit: Headers = ()  # anthropic-ratelimit-*, retry-after, as received
    cost_usd_micros: int | None = None  # None: the model is not in the price book
    user_preview: str = ""
    reply_preview: str = ""
    message_count: int = 0
    tool_count: int = 0
    tool_use_count: int = 0

    @property
    def id(self) -> str:
        return self.exchange.id


@dataclass(frozen=True, slots=True)
class Link:
    """Where the linker placed a request: its class and its place in a conversation tree."""

    request_id: str
    traffic_class: TrafficClass = TrafficClass.OTHER
    conversation_id: str | None = None
    parent_request_id: str | None = None
    branch: str | None = None
    subtask_of: str | None = None  # the request whose response held the Agent/Task tool_use
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """The small precomputed row every list and tree reads; never touches bodies."""

    id: str
    started_at_ms: int
    duration_ms: int
    ttfb_ms: int | None
    method: str
    path: str
    host: str
    account_id: str | None
    client_key_id: str | None
    model: str | None
    is_streaming: bool
    status: int | None
    outcome: Outcome
    error: str | None
    session_id: str | None
    agent_id: str | None
    upstream_request_id: str | None
    usage: Usage
    cost_usd_micros: int | None
    stop_reason: str | None
    user_preview: str
    reply_preview: str
    message_count: int
    tool_count: int
    tool_use_count: int
    traffic_class: TrafficClass | None = None  # None until the linker has seen it
    conversation_id: str | None = None
    parent_request_id: str | None = None
    branch: str | None = None
    subtask_of: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """One request in full, as the store gives it back."""

    summary: RequestSummary
    request_headers: Headers
    response_headers: Headers
    ratelimit: Headers
    request_body: bytes
    response_body: bytes
    response_message: bytes | None
    auth_mode: str
    query: str
    first_byte_at_ms: int | None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, newest first, and the cursor for the next (None at the end)."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Filters shared by the store, the API, the CLI and the TUI. ``None`` means no filter."""

    since_ms: int | None = None
    until_ms: int | None = None
    host: str | None = None
    account_id: str | None = None
    model: str | None = None  # substring match: "opus" matches claude-opus-4-8
    status: str | None = None  # "200", "4xx", "5xx", "error" (no status)
    traffic_class: str | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    text: str | None = None  # full-text search over user and assistant text


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One entry of the live feed (``GET /api/events``): something was recorded, linked or analysed.

    ``seq`` orders the feed and is its resume point (SSE ``id``). ``summary`` is the request's summary
    row for ``request`` and ``link`` events (as it is now, after the change), else ``None``.
    """

    seq: int
    kind: str  # "request" | "link" | "analysis"
    ref_id: str  # request id for request/link events; the analysis engineer's id for analysis
    at_ms: int
    summary: RequestSummary | None = None
