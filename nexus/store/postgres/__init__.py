"""PostgresStore: for teams; several ``nexus serve`` processes may share one database (asyncpg
pool, LISTEN/NOTIFY, SKIP LOCKED claims, advisory locks for migrations and linking)."""

from __future__ import annotations

from nexus.store.facade import SqlStore
from nexus.store.postgres.connector import PostgresConnector
from nexus.store.search_index import SearchIndex


class PostgresStore(SqlStore):
    """The Store on Postgres."""

    connector: PostgresConnector

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        max_connections: int = 10,
        inline: bool = False,
    ) -> None:
        connector = PostgresConnector(
            dsn, schema=schema, max_connections=max_connections, inline=inline
        )
        super().__init__(connector, SearchIndex)
        self.dsn = dsn
        self.schema = schema


__all__ = ["PostgresStore"]
