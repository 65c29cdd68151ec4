"""SqliteStore: the default store, one file in the data dir.

Areas are being moved from the mixin bases below to composed objects (``SqlStore``); to add an
area, follow the ``nexus.store`` package docstring, not these bases.
"""

from __future__ import annotations

from typing import Any

from nexus.store.facade import SqlStore
from nexus.store.sqlite.connection import SqliteConnection
from nexus.store.sqlite.conversations import ConversationsMixin
from nexus.store.sqlite.core import SqliteCore
from nexus.store.sqlite.events import EventsMixin
from nexus.store.sqlite.usage import UsageMixin


class SqliteStore(
    ConversationsMixin,
    UsageMixin,
    EventsMixin,
    SqlStore,
    SqliteCore,
    SqliteConnection,
):  # EventsMixin adds search rows to write_batch and takes them out before prune
    """The Store on SQLite (WAL; one writer connection, one reader)."""

    def __init__(self, path: Any, *, inline: bool = False) -> None:
        super().__init__(path, inline=inline)
        self._compose(self, self.q)


__all__ = ["SqliteStore"]
