"""SqliteStore: the default store, one file in the data dir. Composed of one mixin per area.

To add an area: write ``nexus/store/sqlite/<area>.py`` with a mixin class and add it to the bases
below (areas first, ``SqliteConnection`` last).
"""

from __future__ import annotations

from nexus.store.dead_letters import DeadLettersMixin
from nexus.store.limits import LimitsMixin
from nexus.store.sqlite.connection import SqliteConnection
from nexus.store.sqlite.conversations import ConversationsMixin
from nexus.store.sqlite.core import SqliteCore
from nexus.store.sqlite.events import EventsMixin
from nexus.store.sqlite.jobs import JobsMixin
from nexus.store.sqlite.usage import UsageMixin


class SqliteStore(
    ConversationsMixin,
    UsageMixin,
    JobsMixin,
    EventsMixin,
    DeadLettersMixin,
    LimitsMixin,
    SqliteCore,
    SqliteConnection,
):  # EventsMixin adds search rows to write_batch and takes them out before prune
    """The Store on SQLite (WAL; one writer connection, one reader)."""


__all__ = ["SqliteStore"]
