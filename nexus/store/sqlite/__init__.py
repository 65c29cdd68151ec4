"""SqliteStore: the default store, one file in the data dir (WAL; one writer connection, one
reader), and its FTS5 search index that pages itself."""

from __future__ import annotations

from pathlib import Path

from nexus.store.facade import SqlStore
from nexus.store.sqlite.connector import SqliteConnector
from nexus.store.sqlite.search import FtsSearchIndex


class SqliteStore(SqlStore):
    """The Store on SQLite."""

    connector: SqliteConnector

    def __init__(self, path: Path | str, *, inline: bool = False) -> None:
        super().__init__(SqliteConnector(path, inline=inline), FtsSearchIndex)
        self.path = self.connector.path
        self.refresh_statistics = self.connector.refresh_statistics


__all__ = ["SqliteStore"]
