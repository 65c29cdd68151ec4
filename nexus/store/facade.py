"""``SqlStore``: the one store, composed of areas over a connector; it owns no SQL of its own.

Each area (``requests.Requests``, ``conversations.Conversations``, ``usage.UsageQueries``,
``events.Events``, ``search_index.SearchIndex``, ``jobs.Jobs``, ``dead_letters.DeadLetters``,
``limits.LimitCounters``, ``alert_sends.AlertSends``, ``cache_ledger.CacheBreaks``) is an object
holding the connector and the dialect's statements. The facade builds them once and exposes each area's methods under the ``Store`` protocols' names (bound
methods, so a call costs nothing extra and the signatures are the areas'). ``SqliteStore`` and
``PostgresStore`` only choose the connector and the search index.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from nexus.store import queries
from nexus.store.alert_sends import AlertSends
from nexus.store.base import StoreStats
from nexus.store.cache_ledger import CacheBreaks
from nexus.store.connector import Connector, Params, Tx
from nexus.store.conversations import Conversations
from nexus.store.dead_letters import DeadLetters
from nexus.store.events import Events
from nexus.store.jobs import Jobs
from nexus.store.limits import LimitCounters
from nexus.store.requests import Requests
from nexus.store.search_index import SearchIndex
from nexus.store.usage import UsageQueries


class SqlStore:
    def __init__(
        self, connector: Connector, search: Callable[[Connector, dict[str, str]], SearchIndex]
    ) -> None:
        self.connector = db = connector
        self.dialect: str = db.sql_dialect.name
        self.q = q = queries.load(self.dialect)
        self.search = search(db, q)
        self.requests = requests = Requests(db, q, self.search)
        self.conversations = conversations = Conversations(db, q, requests)
        self.usage = usage = UsageQueries(db, q)
        self.events = events = Events(db, q)
        self.jobs = jobs = Jobs(db, q)
        self.dead_letters = letters = DeadLetters(db, q)
        self.limit_counters = limits = LimitCounters(db, q)
        self.alert_sends = alerts = AlertSends(db, q)
        self.cache_breaks = breaks = CacheBreaks(db, q)

        self.open = db.open
        self.close = db.close
        self.applied_migrations = db.applied_migrations
        self.backup = db.backup
        self.wait_for_notifications = db.wait_for_notifications
        # requests
        self.write_batch = requests.write_batch
        self.get_request = requests.get_request
        self.list_requests = requests.list_requests
        self.count_requests = requests.count_requests
        self.write_links = requests.write_links
        # conversations
        self.link_index = conversations.link_index
        self.list_conversations = conversations.list_conversations
        self.count_conversations = conversations.count_conversations
        self.get_conversation = conversations.get_conversation
        self.linking_positions = conversations.linking_positions
        self.unlinked_request_ids = conversations.unlinked_request_ids
        self.unpublished_links = conversations.unpublished_links
        self.stored_links = conversations.stored_links
        self.clear_link_index = conversations.clear_link_index
        # usage
        self.usage_report = usage.usage_report
        self.usage_readings = usage.usage_readings
        self.usage_latest_readings = usage.usage_latest_readings
        self.usage_points = usage.usage_points
        self.recost = usage.recost
        # live feed
        self.events_after = events.events_after
        self.last_event_seq = events.last_event_seq
        # analysis jobs
        self.enqueue_analysis = jobs.enqueue_analysis
        self.claim_analysis = jobs.claim_analysis
        self.finish_analysis = jobs.finish_analysis
        self.retry_analysis = jobs.retry_analysis
        self.fail_analysis = jobs.fail_analysis
        self.requeue_stuck_analyses = jobs.requeue_stuck_analyses
        self.next_analysis_due_ms = jobs.next_analysis_due_ms
        self.get_analysis = jobs.get_analysis
        self.find_analysis = jobs.find_analysis
        self.list_analyses = jobs.list_analyses
        # dead letters and identity
        self.add_dead_letter = letters.add_dead_letter
        self.list_dead_letters = letters.list_dead_letters
        self.dead_letter_frame = letters.dead_letter_frame
        self.remove_dead_letter = letters.remove_dead_letter
        self.dead_letter_count = letters.dead_letter_count
        self.database_id = letters.database_id
        # limit counters
        self.add_to_counters = limits.add_to_counters
        self.counters_changed = limits.counters_changed
        self.counters_clock_ms = limits.counters_clock_ms
        self.prune_counters = limits.prune_counters
        self.clients_last_used = limits.clients_last_used
        # alert deduplication
        self.claim_alert = alerts.claim_alert
        # cache ledger
        self.cache_neighbours = breaks.cache_neighbours
        self.cache_branch_of = breaks.cache_branch_of
        self.write_cache_ledger = breaks.write_cache_ledger
        self.clear_cache_ledger = breaks.clear_cache_ledger
        self.list_cache_breaks = breaks.list_cache_breaks
        self.cache_break_totals = breaks.cache_break_totals

    @property
    def on_commit(self) -> Callable[[], None] | None:
        """Called after every commit of this process (the event bus wakes the live feed)."""
        return self.connector.on_commit

    @on_commit.setter
    def on_commit(self, callback: Callable[[], None] | None) -> None:
        self.connector.on_commit = callback

    async def prune(self, older_than_ms: int) -> int:
        """Delete requests that started before ``older_than_ms`` (with their ledger rows and what
        nothing else uses); returns how many requests went."""
        await self.cache_breaks.prune_cache_breaks(older_than_ms)
        return await self.requests.prune(older_than_ms)

    async def stats(self) -> StoreStats:
        return await self.requests.stats(await self.dead_letters.dead_letter_count())

    async def index_search_backlog(self, batch: int = 200) -> int:
        """Index requests stored without search text; returns how many."""
        return await self.search.index_backlog(self.requests, batch)

    # -- raw statements, read by position: tests and benchmarks ----------------------------------
    async def _fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.connector.fetchall(sql, params)]

    async def _fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        row = await self.connector.fetchone(sql, params)
        return None if row is None else tuple(row)

    async def _execute(self, sql: str, params: Params = ()) -> int:
        return await self.connector.execute(sql, params)

    def _transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self.connector.transaction()
