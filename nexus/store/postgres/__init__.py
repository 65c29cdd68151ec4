"""PostgresStore: for teams; several ``nexus serve`` processes may share one database.

Composed like SqliteStore: one mixin per area, ``PostgresConnection`` last.
"""

from __future__ import annotations

from nexus.store.dead_letters import DeadLettersMixin
from nexus.store.limits import LimitsMixin
from nexus.store.postgres.connection import PostgresConnection
from nexus.store.postgres.conversations import ConversationsMixin
from nexus.store.postgres.core import PostgresCore
from nexus.store.postgres.events import EventsMixin
from nexus.store.postgres.jobs import JobsMixin
from nexus.store.postgres.usage import UsageMixin


class PostgresStore(
    ConversationsMixin,
    UsageMixin,
    JobsMixin,
    EventsMixin,
    DeadLettersMixin,
    LimitsMixin,
    PostgresCore,
    PostgresConnection,
):
    """The Store on Postgres (asyncpg pool, LISTEN/NOTIFY, SKIP LOCKED claims)."""


__all__ = ["PostgresStore"]
