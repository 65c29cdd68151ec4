"""Storage: the Store protocol and the factory that builds the concrete store a URL names.

Only ``server.py`` and ``cli/`` call ``open_store``; every other layer receives a ``Store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus.errors import ConfigError, StoreUnavailable
from nexus.store.base import Store, StoreStats

if TYPE_CHECKING:
    from nexus.settings import Settings

__all__ = ["Store", "StoreStats", "build_store", "open_store"]


def build_store(database_url: str) -> Store:
    """The store for a URL (``sqlite:///path`` or ``postgresql://…``), not yet opened."""
    if database_url.startswith(("postgres://", "postgresql://")):
        from nexus.store.postgres import PostgresStore

        return PostgresStore(database_url)
    if database_url.startswith("sqlite://"):
        from nexus.store.sqlite import SqliteStore

        path = database_url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise ConfigError("a sqlite URL needs a path: sqlite:///path/to/nexus.db")
        return SqliteStore(path)
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
