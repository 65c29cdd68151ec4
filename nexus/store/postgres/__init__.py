"""PostgresStore: for teams; several ``nexus serve`` processes may share one database.

Composed like SqliteStore: one mixin per area, ``PostgresConnection`` last.
"""

from __future__ import annotations

from typing import Any

from nexus.store.facade import SqlStore
from nexus.store.postgres.connection import PostgresConnection
from nexus.store.postgres.conversations import ConversationsMixin
from nexus.store.postgres.core import PostgresCore
from nexus.store.postgres.events import EventsMixin
from nexus.store.postgres.usage import UsageMixin


class PostgresStore(
    ConversationsMixin,
    UsageMixin,
    EventsMixin,
    SqlStore,
    PostgresCore,
    PostgresConnection,
):
    """The Store on Postgres (asyncpg pool, LISTEN/NOTIFY, SKIP LOCKED claims)."""

    def __init__(self, dsn: str, **options: Any) -> None:
        super().__init__(dsn, **options)
        self._compose(self, self.q)


__all__ = ["PostgresStore"]
