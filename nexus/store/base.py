"""The Store protocol: every intent-named operation the layers above need, and the rows it returns.

Two implementations satisfy it, ``SqliteStore`` and ``PostgresStore``; only ``server.py`` and
``cli/`` build one (``open_store``). Writes are idempotent by request id, so replaying the spool or
running several processes never duplicates a record. Drivers' exceptions never leave a store: they
become ``StoreUnavailable`` (the database is down; the writer spools) or propagate as bugs.

Longer than the ~400 lines a module keeps to, on purpose: every area's protocol and row type in
one place, so what the layers above may ask of a store is read (and type-checked) in one file. The
one exception is the usage area's reads and rows, declared in ``nexus.usage.source`` (which may not
import the store) and extended or re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from nexus.records import (
    CacheBreakTotal,
    CacheLedgerEntry,
    ConversationSummary,
    ConversationTree,
    CounterRow,
    KeyHit,
    Link,
    LinkKey,
    LinkNode,
    LiveEvent,
    Page,
    RequestFilter,
    RequestRecord,
    RequestSummary,
    StoredRequest,
)

# The usage area's rows and reads are declared where they are read (nexus.usage may not import
# the store); re-exported here with the rest.
from nexus.usage.source import RateLimitRow as RateLimitRow
from nexus.usage.source import UsagePoint as UsagePoint
from nexus.usage.source import UsageSource

if TYPE_CHECKING:
    from nexus.usage.cost import CostFunction


@dataclass(frozen=True, slots=True)
class StoreStats:
    requests: int
    bytes_received: int  # request + response bytes as they crossed the proxy
    unique_content_bytes: int  # distinct messages, system prompts and tool lists
    database_bytes: int  # size on disk (file or pg_database_size)
    blobs: int
    oldest_ms: int | None
    newest_ms: int | None
    dead_letters: int = 0  # records the recorder set aside (``nexus db dead-letters``)


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


# -- recorder area: dead letters and the database's identity ----------------------------------
DeadLetterStage = Literal["derive", "store", "crash"]  # crash: the recorder process died on it


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the recorder could not derive or store after a few attempts, set aside with its
    error; its spool frame (``nexus.recorder.spool`` format) is kept beside it, exactly."""

    id: str
    failed_at_ms: int
    attempts: int
    stage: DeadLetterStage
    error: str
    frame_bytes: int


class DeadLetterStore(Protocol):
    async def add_dead_letter(self, letter: DeadLetter, frame: bytes) -> None:
        """Keep ``frame`` with its error; a letter already there adds its attempts."""

    async def list_dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        """Oldest failure first."""

    async def dead_letter_frame(self, letter_id: str) -> bytes | None: ...

    async def remove_dead_letter(self, letter_id: str) -> None: ...

    async def database_id(self) -> str:
        """This database's identity (made by its first migration), whatever URL reaches it."""


class LimitCounterStore(Protocol):
    """The limit counters (docs/limits.md): the recorder adds, every proxy process reads."""

    async def add_to_counters(self, rows: Sequence[CounterRow]) -> None:
        """Add each row's requests, tokens and cost to its (scope, kind, start, replica) row."""

    async def counters_changed(
        self, since_ms: int, live_after_ms: int
    ) -> tuple[int, list[CounterRow]]:
        """The database's clock now, and the rows stamped after ``since_ms`` (that clock) whose
        window is still live."""

    async def counters_clock_ms(self) -> int: ...

    async def prune_counters(self, now_ms: int) -> int: ...

    async def clients_last_used(self) -> dict[str, int]:
        """``client:<id>`` → start of that client's latest counted call."""


class AlertSendStore(Protocol):
    async def claim_alert(self, dedup_key: str, now_ms: int, cooldown_ms: int) -> bool:
        """Whether no process sent ``dedup_key`` within ``cooldown_ms`` (and record this send)."""


# -- api area: live feed and search (owner: api engineer) --------------------------------------
class EventStore(Protocol):
    """The ``events`` table read back as the live feed, and the cross-process wake-up.

    Writers append events in the transaction that made the change (``request`` by write_batch,
    ``link`` by write_links, ``analysis`` by the analysis jobs); seq order is commit order.
    """

    async def events_after(self, after_seq: int, limit: int = 500) -> list[LiveEvent]:
        """Events with ``seq > after_seq`` in seq order; summaries joined to request/link events."""

    async def last_event_seq(self) -> int:
        """The newest committed seq (0 for an empty feed)."""

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        """Call ``on_notify`` whenever any process commits events, until cancelled.

        Postgres: ``LISTEN nexus_events`` on a dedicated connection; raises ``StoreUnavailable``
        when that connection is lost. SQLite (one process owns the file): returns at once.
        """


# -- analysis area: jobs (owner: analysis engineer) --------------------------------------------
class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AnalysisJob:
    """One analysis of a conversation branch under one prompt version, and where it stands."""

    id: str
    conversation_id: str
    branch: str
    prompt_version: str
    state: JobState
    attempts: int  # claims so far, counting the one running now
    created_at_ms: int
    updated_at_ms: int
    run_after_ms: int  # a pending job is not claimed before this (retry backoff)
    started_at_ms: int | None  # the latest claim
    finished_at_ms: int | None
    claim_token: str | None  # set while running; finish/retry/fail must present it
    error: str | None  # the last failure (kept on a pending retry, cleared when done)
    model: str | None
    input_tokens: int  # summed over every attempt
    output_tokens: int
    result_json: bytes | None  # the validated result (nexus.analysis.schema); None in lists
    markdown: str | None
    prompt_name: str | None = None  # a custom prompt's name (its file); None: the built-in one
    prompt_text: str | None = None  # a custom prompt's instructions; None in lists

    @property
    def duration_ms(self) -> int | None:
        if self.started_at_ms is None or self.finished_at_ms is None:
            return None
        return self.finished_at_ms - self.started_at_ms


class JobStore(Protocol):
    """Analysis jobs. Every state change appends an ``analysis`` event (ref = job id) in the same
    transaction. ``now_ms`` parameters let callers inject a clock; ``None`` means the wall clock."""

    async def enqueue_analysis(
        self,
        conversation_id: str,
        branch: str,
        prompt_version: str,
        *,
        force: bool = False,
        now_ms: int | None = None,
        prompt_name: str | None = None,
        prompt_text: str | None = None,
    ) -> AnalysisJob:
        """The job for this key, created pending if missing (with a custom prompt's name and
        text, which its key is a hash of). ``force`` puts a done or failed job back to pending
        (fresh attempts, result cleared); a pending or running job is left as is."""

    async def claim_analysis(
        self, claim_token: str, now_ms: int | None = None
    ) -> AnalysisJob | None:
        """Atomically move the oldest due pending job to running under ``claim_token``; None when
        nothing is due. Safe with any number of concurrent workers and processes."""

    async def finish_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        result_json: bytes,
        markdown: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        now_ms: int | None = None,
    ) -> bool:
        """running → done. False (and no change) when the claim is no longer held."""

    async def retry_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        error: str,
        run_after_ms: int,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        now_ms: int | None = None,
    ) -> bool:
        """running → pending, not claimable before ``run_after_ms``; False if the claim is lost."""

    async def fail_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        error: str,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        now_ms: int | None = None,
    ) -> bool:
        """running → failed; False when the claim is no longer held."""

    async def requeue_stuck_analyses(
        self, started_before_ms: int, now_ms: int | None = None
    ) -> list[str]:
        """running jobs claimed before ``started_before_ms`` → pending (their worker died or hung);
        returns their ids. A late finish from the old worker is then refused (token cleared)."""

    async def next_analysis_due_ms(self) -> int | None:
        """When the soonest pending job becomes claimable (None: nothing pending). A read: idle
        workers poll it without touching the writer."""

    async def get_analysis(self, job_id: str) -> AnalysisJob | None: ...

    async def find_analysis(
        self, conversation_id: str, branch: str, prompt_version: str
    ) -> AnalysisJob | None:
        """The branch's job for ``prompt_version``, else its newest job of any version."""

    async def list_analyses(
        self, *, state: JobState | None = None, conversation_id: str | None = None, limit: int = 100
    ) -> list[AnalysisJob]:
        """Newest first, without ``result_json`` and ``markdown``."""


# -- usage area: reports, rate-limit readings, recost (owner: usage engineer) -------------------


class UsageStore(UsageSource, Protocol):
    """The reads the usage reports make (declared once, in ``nexus.usage.source``), and re-pricing."""

    async def recost(self, cost_fn: CostFunction) -> int:
        """Re-price every stored request with ``cost_fn``; returns how many costs changed."""


# -- conversations area: link index, summaries, trees (owner: conversation engine) -------------
Position = tuple[int, str]  # (started_at_ms, request_id): the canonical order of linking


class LinkIndex(Protocol):
    """The conversation engine's index inside one write transaction (on Postgres, under the link
    generation's row lock, so processes link one at a time). Every lookup with ``before`` sees only nodes that come
    before that position, so a request's link depends only on requests before it."""

    generation: int
    """How many transactions had written the index when this one began (this one included)."""

    async def find_keys(
        self,
        scope: str,
        kinds: Sequence[str],
        keys: Sequence[str],
        *,
        before: Position | None = None,
        after: Position | None = None,
        since_ms: int | None = None,
        limit: int = 200,
    ) -> list[KeyHit]:
        """Keys of ``kinds`` equal to one of ``keys`` in ``scope`` whose node lies strictly between
        ``after`` and ``before`` (and started at or after ``since_ms``), newest node first."""

    async def find_unclaimed_tasks(
        self, scope: str, keys: Sequence[str], *, before: Position, since_ms: int | None = None
    ) -> list[KeyHit]:
        """``t`` keys among ``keys`` before ``before`` that no sub-task root before ``before`` has
        claimed, newest node first, then by ordinal."""

    async def first_session_node(
        self,
        scope: str,
        session_id: str,
        *,
        before: Position | None = None,
        after: Position | None = None,
    ) -> LinkNode | None:
        """The earliest non-background node of a session (strictly between ``after`` and
        ``before`` when given)."""

    async def has_continuation(self, parent_request_id: str, before: Position) -> bool:
        """Whether a node before ``before`` already continues ``parent_request_id``."""

    async def count_branch_starts(self, conversation_id: str, prefix: str, before: Position) -> int:
        """Nodes before ``before`` that started a branch whose name starts with ``prefix``."""

    async def count_tasks(self, conversation_id: str, before: Position) -> int:
        """Agent/Task tool_uses in responses of the conversation's nodes before ``before``."""

    async def branch_tip(
        self, conversation_id: str, branch: str, before: Position
    ) -> LinkNode | None:
        """The latest non-background node of a branch before ``before``."""

    async def get_nodes(self, request_ids: Sequence[str]) -> list[LinkNode]: ...

    async def newest_position(self) -> Position | None:
        """The position of the newest node of the whole index (None: the index is empty)."""

    async def last_position(self, conversation_id: str, exclude: str) -> Position | None:
        """The latest non-background node of a conversation other than ``exclude``."""

    async def nodes_after(self, conversation_id: str, after: Position) -> list[LinkNode]:
        """Non-background nodes of a conversation after ``after``, in canonical order."""

    async def session_background(self, scope: str, session_id: str) -> list[LinkNode]: ...

    async def put_node(
        self, node: LinkNode, keys: Sequence[LinkKey], *, is_new: bool = False
    ) -> None:
        """Store a node and its keys, replacing any earlier node (and keys) of the same request;
        ``is_new``: the request is known to have none (nothing to replace)."""

    async def delete_nodes(self, request_ids: Sequence[str]) -> None: ...

    async def missing_request_nodes(self, limit: int) -> list[LinkNode]:
        """Nodes whose request is no longer stored (pruned)."""

    async def get_summary(self, conversation_id: str) -> ConversationSummary | None: ...

    async def put_summary(self, summary: ConversationSummary) -> None: ...

    async def delete_summary(self, conversation_id: str) -> None: ...

    async def summary_rows(self, conversation_id: str) -> list[tuple[LinkNode, RequestSummary]]:
        """Every request of a conversation (background calls included) with its node."""

    async def publish(self, links: Sequence[Link]) -> list[Link]:
        """Write links that differ from the ``links`` table, each with its ``link`` event, in this
        transaction (so a later repair by another process can never be overwritten by an older
        result); returns the ones written."""


class ConversationStore(Protocol):
    """Conversations: the linker's index and what lists and trees read."""

    def link_index(self) -> AbstractAsyncContextManager[LinkIndex]:
        """One transaction over the link index (serialised across processes on Postgres)."""

    async def list_conversations(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]:
        """Newest activity first. Filters: since/until (last activity), host, account, model
        (substring of any model used), session, conversation, traffic class (has one), text
        (title or latest preview)."""

    async def count_conversations(self, flt: RequestFilter) -> int: ...

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None: ...

    async def linking_positions(self, after: Position | None, limit: int = 500) -> list[Position]:
        """Every stored request's position in canonical order (for rebuild), after ``after``."""

    async def unlinked_request_ids(self, limit: int = 500) -> list[str]:
        """Stored requests the linker has no node for, oldest first (linking was interrupted)."""

    async def unpublished_links(self, limit: int = 500) -> list[Link]:
        """Nodes whose link is missing from (or differs from) the ``links`` table."""

    async def clear_link_index(self) -> None:
        """Forget every node, key and conversation summary (rebuild starts from nothing)."""

    async def stored_links(self, request_ids: Sequence[str]) -> dict[str, Link]:
        """The ``links`` rows of these requests, as they are now."""


# -- cache ledger area (owner: nexus/cache/) ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A break as the ledger writes it (``nexus.cache.ledger``)."""

    request_id: str
    predecessor_id: str
    started_at_ms: int
    cause: str
    detail: str
    expected_tokens: int
    read_tokens: int
    missed_tokens: int
    excess_cost_usd_micros: int | None


class CacheLedgerStore(Protocol):
    """The cache ledger's rows: one per request that broke the prompt cache."""

    async def cache_neighbours(
        self, conversation_id: str, branch: str, agent_id: str | None, at: Position
    ) -> tuple[str | None, str | None]:
        """On that line of work (turn, subagent and compaction requests): the latest 2xx request
        before ``at``, and the first request after it."""

    async def cache_branch_of(self, request_id: str) -> str | None: ...

    async def write_cache_ledger(
        self, checked: Sequence[str], breaks: Sequence[LedgerRow], *, announce: bool = True
    ) -> int:
        """Replace the ledger rows of ``checked`` (and of every id in ``breaks``) with ``breaks``
        in one transaction. With ``announce``, a break that is new (or changed cause) gets a
        ``cache_break`` event; returns how many breaks were new."""

    async def clear_cache_ledger(self) -> None: ...

    async def list_cache_breaks(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[CacheLedgerEntry]:
        """Breaks newest first (filters as for requests, but ``text``)."""

    async def cache_break_totals(
        self, flt: RequestFilter, by: str, *, utc_offset_ms: int = 0
    ) -> list[CacheBreakTotal]:
        """Breaks per group of ``by`` (``CACHE_GROUPS``), largest excess cost first (``day``:
        oldest first). Raises ``ApiError`` on an unknown group."""
