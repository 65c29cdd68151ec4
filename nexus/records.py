"""The frozen records every layer shares: what the proxy captured, what the recorder derived from it,
how the linker placed it, and the summary rows that lists read.

Raw JSON stays ``bytes`` here; the layer that needs a structure parses it once (a record carries the
recorder's parse of its request body along, ``nexus/wire.py``).

Longer than the ~400 lines a module keeps to, on purpose: it is the shared vocabulary, one name
every layer imports its records from; the sections below say which area owns which records.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from nexus.wire import ParsedRequest

Headers = tuple[tuple[str, str], ...]


class TrafficClass(StrEnum):
    """What kind of call a request is (DESIGN.md §4; how each is recognised: docs/conversations.md)."""

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
    SIDE_QUESTION = "side_question"  # /btw: the whole history plus a question, answered aside
    MEMORY = "memory"  # background memory extraction (a fork of the conversation with tools)
    OTHER = "other"

    @property
    def is_background(self) -> bool:
        """A call that attaches to its session but never takes a place in a conversation tree:
        everything but a turn, a sub-agent's call and a compaction. The one definition; the
        linker, the TUI and the exporters all ask it."""
        return self not in _TREE_CLASSES

    @property
    def is_agent_call(self) -> bool:
        """An agent's own call, a turn or a sub-agent's: what a transcript shows as a plain turn
        and an analysis reads (a compaction's summarising call is in the tree but is neither)."""
        return self in _AGENT_CLASSES


_AGENT_CLASSES = frozenset({TrafficClass.TURN, TrafficClass.SUBAGENT})
_TREE_CLASSES = _AGENT_CLASSES | {TrafficClass.COMPACTION}
BACKGROUND_CLASSES = frozenset(c for c in TrafficClass if c.is_background)


def is_background_class(traffic_class: str | None) -> bool:
    """Whether a class (or its string form, as rows carry it) is a background class; unknown
    strings (a newer server's class) are not."""
    return traffic_class is not None and traffic_class in _BACKGROUND_NAMES


_BACKGROUND_NAMES = frozenset(str(c) for c in BACKGROUND_CLASSES)


class Outcome(StrEnum):
    """How an exchange ended, as seen by the proxy."""

    COMPLETE = "complete"  # the upstream answered (any status) and the client got all of it
    REJECTED = "rejected"  # Nexus refused the request itself (bad input, bad client key)
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_RESET = "upstream_reset"  # the upstream connection broke mid-response
    CLIENT_DISCONNECTED = "client_disconnected"
    # The upstream answered 2xx, then ended its stream with ``event: error`` (overloaded mid-stream).
    # The recorder sets it from the stream; the proxy never parses what it relays.
    STREAM_ERROR = "stream_error"


_NOT_ERRORS = frozenset({Outcome.COMPLETE, Outcome.CLIENT_DISCONNECTED})


def is_error(status: int | None, outcome: Outcome | str) -> bool:
    """Whether a call failed: no answer, an error status, or an answer that broke off or ended in an
    error event. The one definition; ``filter_status_error`` and ``usage_report`` in
    store/queries/ say the same in SQL (tests/store/test_errors.py holds them together)."""
    return status is None or status >= 400 or outcome not in _NOT_ERRORS


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
    # The limit counters this call counts toward ("client:alice@team.example", ...), set by the
    # proxy when it admitted the call under a policy; the recorder adds the call to them.
    limit_scopes: tuple[str, ...] = ()

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
    # The request body parsed once by the recorder (nexus/wire.py), for the stages after it; never
    # stored, not part of equality. None: whoever needs it parses ``exchange.request_body``.
    parsed_request: ParsedRequest | None = field(default=None, compare=False, repr=False)

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


class CacheCause(StrEnum):
    """Why a request missed the prompt cache its predecessor left (docs/cache.md), in the order
    the causes are looked for: the first that applies is the one given."""

    MODEL_CHANGED = "model_changed"
    TTL_EXPIRED = "ttl_expired"
    TOOLS_CHANGED = "tools_changed"
    SYSTEM_CHANGED = "system_changed"
    SETTINGS_CHANGED = "settings_changed"  # thinking or tool_choice
    BREAKPOINTS_MOVED = "breakpoints_moved"
    HISTORY_EDITED = "history_edited"
    NONE_VISIBLE = "none_visible"  # the prefix was identical and the server still missed


CACHE_CAUSE_LABELS: dict[CacheCause, str] = {
    CacheCause.MODEL_CHANGED: "model changed",
    CacheCause.TTL_EXPIRED: "TTL expired",
    CacheCause.TOOLS_CHANGED: "tools changed",
    CacheCause.SYSTEM_CHANGED: "system changed",
    CacheCause.SETTINGS_CHANGED: "settings changed",
    CacheCause.BREAKPOINTS_MOVED: "breakpoints moved",
    CacheCause.HISTORY_EDITED: "history edited",
    CacheCause.NONE_VISIBLE: "none visible",
}
"""How people read each cause (CLI tables, TUI); at most 17 characters."""


@dataclass(frozen=True, slots=True)
class CacheBreak:
    """A request that read less from the prompt cache than its predecessor left there: why, how
    many tokens were written again instead of read, and what that cost over reading them
    (``None``: the model is not in the price book)."""

    cause: CacheCause
    detail: str
    missed_tokens: int
    excess_cost_usd_micros: int | None


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
    cache_break: CacheBreak | None = None  # set by the cache ledger (nexus/cache/)

    @property
    def is_background(self) -> bool:
        """See ``TrafficClass.is_background`` (False until the linker has classified the call)."""
        return is_background_class(self.traffic_class)


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


CONVERSATION_FILTER_LIMITS: dict[str, str] = {
    "status": "a conversation has no single status (its requests do)",
}
"""``RequestFilter`` fields a conversation list cannot honour, each with the reason: the API refuses
them with a 400, the TUI's filter bar before asking, so no filter is ever silently ignored."""


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group of a usage report (the store sums it, ``nexus.usage.report`` totals and encodes
    it). Costs sum priced requests only; ``unpriced_requests`` says how many had tokens but no
    price (shown as "≥ $x", never as $0)."""

    group: tuple[tuple[str, str | None], ...]  # (dimension, value) in the requested order
    requests: int
    errors: int  # no status, or status >= 400
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    cost_usd_micros: int
    unpriced_requests: int
    first_ms: int | None
    last_ms: int | None


USAGE_SUMS = ("requests", "errors", "input_tokens", "output_tokens", "cache_write_5m_tokens",
              "cache_write_1h_tokens", "cache_read_tokens", "cost_usd_micros", "unpriced_requests")  # fmt: skip
"""The ``UsageRow`` fields that add up across groups (the rest: the group and its first/last)."""


@dataclass(frozen=True, slots=True)
class WindowForecast:
    """When one account's rate-limit window (``5h``, ``7d``, …) reaches 100 % at the current burn
    rate (``nexus.usage.forecast`` computes it; ``/api/windows`` carries it per window)."""

    account: str
    window: str
    utilization: float  # the newest reading, 0..1
    at_ms: int  # when the newest reading arrived
    reset_at_ms: int | None
    burn_per_hour: float | None  # utilization per hour; None: too few readings to tell
    full_at_ms: int | None  # when it reaches 1.0 at that rate; None: not rising
    since_ms: int | None  # the baseline the rate is measured from

    @property
    def is_full_before_reset(self) -> bool:
        """The window runs out before it resets (a window with no known reset: whenever full)."""
        if self.full_at_ms is None:
            return False
        return self.reset_at_ms is None or self.full_at_ms < self.reset_at_ms

    def minutes_to_full(self, now_ms: int) -> float | None:
        if self.full_at_ms is None:
            return None
        return max(0.0, (self.full_at_ms - now_ms) / 60_000)


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


# -- conversations (owner: conversation engine) -------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation as lists show it, kept up to date by the linker (never reads bodies).

    ``id`` is the id of the conversation's first request. Token and cost sums cover every request of
    the conversation, background calls included; ``cost_usd_micros`` sums priced requests only.
    ``latest_context_tokens`` is the context the main agent's latest turn sent.
    """

    id: str
    started_at_ms: int
    last_at_ms: int
    last_request_id: str
    host: str
    account_id: str | None
    client_key_id: str | None
    session_id: str | None
    request_count: int
    class_counts: dict[str, int]  # TrafficClass value → requests (classes with none are left out)
    branch_count: int  # main plus every rewind, compaction and fork (sub-agent runs: subtask_count)
    subtask_count: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_usd_micros: int
    models: tuple[str, ...]
    latest_context_tokens: int
    title: str  # the first request's user text preview
    last_user_preview: str  # the latest main-agent turn's user text preview
    latest_turn_id: str | None = None  # the main-agent turn latest_context_tokens comes from
    latest_turn_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationBranch:
    """A branch of a conversation tree: ``main``, a rewind (``branch-2`` …), a continuation after a
    compaction (``compact-1`` …), a sub-task (``task-1`` …) or a forked session (``fork-1`` …)."""

    name: str
    kind: str  # "main" | "rewind" | "compaction" | "task" | "fork" (see branch_kind)
    first_request_id: str
    fork_request_id: str | None  # the request it grew from (None for a root)
    request_count: int
    last_request_id: str


BRANCH_KINDS = (
    ("branch-", "rewind"),
    ("compact-", "compaction"),
    ("task-", "task"),
    ("fork-", "fork"),
)
"""Branch name prefix → kind; any other name (``main``) is the main line."""


def branch_kind(name: str) -> str:
    return next((kind for prefix, kind in BRANCH_KINDS if name.startswith(prefix)), "main")


def branches_of(
    rows: list[RequestSummary], starts: set[str] | frozenset[str] = frozenset()
) -> list[ConversationBranch]:
    """A conversation's branch records from its conversational requests in linking order, each
    carrying the branch the linker gave it: per name, its first request (the one in ``starts``, the
    linker's mark, else the earliest), the request that one grew from, its size and its last
    request. The one grouping behind the store's trees and an export of links alone."""
    if not rows:
        return []
    groups: dict[str, list[RequestSummary]] = {}
    for row in rows:
        groups.setdefault(row.branch or "main", []).append(row)
    branches = []
    for name, members in groups.items():
        first = next((r for r in members if r.id in starts), members[0])
        branches.append(
            ConversationBranch(
                name=name,
                kind=branch_kind(name),
                first_request_id=first.id,
                fork_request_id=first.parent_request_id,
                request_count=len(members),
                last_request_id=members[-1].id,
            )
        )
    return sorted(branches, key=lambda b: (b.first_request_id != rows[0].id, b.first_request_id))


@dataclass(frozen=True, slots=True)
class ConversationSubtask:
    """A sub-agent run: started by an ``Agent``/``Task`` tool_use in ``subtask_of``'s response."""

    request_id: str  # the sub-agent's first request
    subtask_of: str
    branch: str
    agent_id: str | None
    description: str
    subagent_type: str
    request_count: int


@dataclass(frozen=True, slots=True)
class ConversationTree:
    """A conversation whole: its summary and every request (background calls included) in start
    order, each carrying its link (parent, branch, sub-task) in its ``RequestSummary``."""

    summary: ConversationSummary
    nodes: list[RequestSummary]
    branches: list[ConversationBranch]
    subtasks: list[ConversationSubtask]


@dataclass(frozen=True, slots=True)
class LinkNode:
    """The conversation engine's stored state for one request: its link plus what later linking
    reads (scope, start, session, how it attached). ``scope`` separates accounts / client keys /
    hosts: requests of two scopes never share a conversation."""

    request_id: str
    scope: str
    started_at_ms: int
    traffic_class: TrafficClass
    edge: str  # "root" | "cont" | "retry" | "task" | "compact" | "fork" | "background"
    session_id: str | None = None
    agent_id: str | None = None
    conversation_id: str | None = None
    parent_request_id: str | None = None
    branch: str | None = None
    subtask_of: str | None = None
    task_ordinal: int | None = None  # a sub-task root: which Agent/Task tool_use of subtask_of
    branch_start: bool = False  # the first request of its branch
    task_count: int = 0  # Agent/Task tool_uses in its response

    @property
    def position(self) -> tuple[int, str]:
        """Canonical order of linking: by start time, then id."""
        return (self.started_at_ms, self.request_id)

    def link(self) -> Link:
        return Link(
            request_id=self.request_id,
            traffic_class=self.traffic_class,
            conversation_id=self.conversation_id,
            parent_request_id=self.parent_request_id,
            branch=self.branch,
            subtask_of=self.subtask_of,
            agent_id=self.agent_id,
        )


@dataclass(frozen=True, slots=True)
class LinkKey:
    """A lookup key a linked request leaves for later ones: ``c`` its messages plus response,
    ``r`` its messages, ``t`` an Agent/Task prompt of its response, ``s`` a line of the summary a
    compaction produced; ``w``/``wt``/``ws`` what a request that found nothing was looking for."""

    kind: str
    key: str
    ordinal: int = 0
    info: str | None = None  # ``t`` keys: JSON {tool_use_id, description, subagent_type, number}


@dataclass(frozen=True, slots=True)
class KeyHit:
    """A stored key that matched a lookup, with the node that left it."""

    key: LinkKey
    node: LinkNode


USAGE_GROUPS = ("account", "host", "model", "session", "client_key", "class", "day", "hour")
"""Dimensions ``usage_report`` groups by. ``account`` is the account id, else ``key:<client key
id>``, else ``host:<host>`` (pass-through traffic has no account); ``day``/``hour`` are buckets of
the start time, shifted by ``utc_offset_ms``, given as ISO text (``2025-11-24``,
``2025-11-24T10``)."""


# -- limits (owner: limits; docs/limits.md) ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class CounterRow:
    """One limit counter row: what one replica (a ``nexus serve`` process) recorded for one scope
    (``client:alice@host``, ``host:…``, ``account:…``, ``session:…``) in one fixed window."""

    scope: str
    kind: str
    start_ms: int
    end_ms: int
    replica: str
    requests: int
    tokens: int  # input + output
    cost_usd_micros: int
    last_at_ms: int  # start of the latest call counted (``nexus auth clients``: last used)


# -- cache ledger (owner: nexus/cache/) ---------------------------------------------------------
CACHE_GROUPS = ("cause", "session", "account", "model", "day")
"""Dimensions the cache ledger totals breaks by (``account`` and ``day`` as in ``USAGE_GROUPS``)."""


@dataclass(frozen=True, slots=True)
class CacheLedgerEntry:
    """One cache break as the ledger lists it: the request, its predecessor, and the break."""

    request_id: str
    started_at_ms: int
    predecessor_id: str
    cause: CacheCause
    detail: str
    expected_tokens: int  # what the request could have read from its predecessor's entries
    read_tokens: int
    missed_tokens: int
    excess_cost_usd_micros: int | None
    session_id: str | None = None
    account: str | None = None  # as in USAGE_GROUPS
    model: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class CacheBreakTotal:
    """Breaks of one group (``CACHE_GROUPS``); costs sum priced breaks only."""

    group: str | None
    breaks: int
    missed_tokens: int
    excess_cost_usd_micros: int
    unpriced_breaks: int
