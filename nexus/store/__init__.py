"""Storage: the Store protocol and the factory that builds the concrete store a URL names.

Only ``server.py`` and ``cli/`` call ``open_store``; every other layer receives a ``Store``.

The shape: one SQL store (``facade.SqlStore``) composed of *areas* (``requests``,
``conversations`` with ``link_index``, ``usage``, ``events``, ``search_index``, ``jobs``,
``dead_letters``, ``limits``, ``alert_sends``, ``cache_ledger``), each an object holding a connector
(``connector.Connector``: ``sqlite/connector.py`` or ``postgres/connector.py``) and its dialect's
statements. ``dialect.py`` holds what the two databases do differently with one statement;
``queries/`` holds the SQL; ``nexus.filters`` (outside the store, so the TUI can use it) builds the
list filters' WHERE clauses. ``SqliteStore`` and ``PostgresStore`` only choose the connector and
the search index (SQLite's FTS5 pages itself: ``sqlite/search.py``). No area imports a dialect's
package, and neither dialect's package imports the other's.

How to add a query:
    1. Write it once in ``queries/common/<area>.sql`` under ``-- name: my_query``, with ``:name``
       parameters (``= ANY(:ids)`` for a list, bound with ``self.dialect.array(ids)``).
    2. Only if a dialect must say it differently, write a block of the same name in
       ``queries/<dialect>/<area>.sql`` (or override a smaller included block, as ``jobs_claim``
       includes ``{jobs_claim_lock}``). ``{other_block}`` includes another block by name.
    3. Run it from the area: ``await self.db.fetchall(self.q["my_query"], {"name": value})`` and
       read each row by column name (``row["started_at_ms"]``); alias computed columns (``AS n``).

How to add an area:
    1. The schema: a new migration ``migrations/sqlite/00NN_<area>.sql`` and the same number in
       ``migrations/postgres/`` (released migrations are never edited).
    2. ``queries/common/<area>.sql`` (+ overrides), as above.
    3. ``nexus/store/<area>.py``: ``class MyArea(Area)`` with the methods, using ``self.db`` and
       ``self.q``; writes go through ``async with self.db.transaction() as tx``. It imports neither
       ``sqlite/`` nor ``postgres/``.
    4. Its Protocol and row types in ``base.py``; build it in ``SqlStore.__init__`` (``facade.py``)
       and expose each protocol method there as the area's bound method
       (``self.claim_alert = alerts.claim_alert``).
    5. Tests through the ``store`` fixture, which runs each test on both dialects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus.errors import ConfigError, StoreUnavailable
from nexus.store.base import Store, StoreStats

if TYPE_CHECKING:
    from nexus.settings import Settings

__all__ = ["Store", "StoreStats", "build_store", "open_store"]


def build_store(database_url: str, *, inline: bool = False) -> Store:
    """The store for a URL (``sqlite:///path`` or ``postgresql://…``), not yet opened.
    ``inline``: the store's CPU work (cutting a batch) and, on SQLite, its write transactions run on
    the event loop's thread, without a hop to a worker or driver thread (~0.1 ms of CPU each); only
    for a process whose loop serves nothing that waits (the recorder child)."""
    if database_url.startswith(("postgres://", "postgresql://")):
        from nexus.store.postgres import PostgresStore

        return PostgresStore(database_url, inline=inline)
    if database_url.startswith("sqlite://"):
        from nexus.store.sqlite import SqliteStore

        path = database_url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise ConfigError("a sqlite URL needs a path: sqlite:///path/to/nexus.db")
        return SqliteStore(path, inline=inline)
    raise ConfigError(
        f"unsupported database URL {database_url.split(':', 1)[0]!r}: "
        "use sqlite:///path or postgresql://user@host/db"
    )


async def open_store(settings: Settings) -> Store:
    """Build the store named by ``settings.database_url``, connect, and apply migrations."""
    try:
        store = build_store(settings.database_url)
        await store.open()
    except ConfigError as exc:  # the URL is what to fix: say which setting holds it
        raise ConfigError(f"{exc.message} (fix the URL in --db or DATABASE_URL)") from exc
    except StoreUnavailable as exc:  # down, or the wrong address: say where it was looked for
        raise StoreUnavailable(
            f"{exc.message} (is the database up? --db or DATABASE_URL names it)"
        ) from exc
    return store
