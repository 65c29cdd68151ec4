"""PostgresStore: for teams; several ``nexus serve`` processes may share one database (asyncpg
pool, LISTEN/NOTIFY, SKIP LOCKED claims, advisory locks for migrations and linking)."""

from __future__ import annotations

from typing import Unpack

from nexus.store.facade import SqlStore
from nexus.store.postgres.connector import PostgresConnector, PostgresOptions
from nexus.store.search_index import SearchIndex


class PostgresStore(SqlStore):
    """The Store on Postgres."""

    connector: PostgresConnector

    def __init__(self, dsn: str, **options: Unpack[PostgresOptions]) -> None:
        super().__init__(PostgresConnector(dsn, **options), SearchIndex)
        self.dsn = dsn
        self.schema = self.connector.schema


__all__ = ["PostgresStore"]
