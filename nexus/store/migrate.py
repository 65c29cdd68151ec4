"""Schema migrations: numbered SQL files per dialect, applied in order, recorded in ``_migrations``.

A released migration is never edited; a change is a new file. The stores call ``pending`` with the
names already applied and run each script in its own transaction.
"""

from __future__ import annotations

from importlib import resources


def migrations(dialect: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration of a dialect, in order."""
    folder = resources.files("nexus.store.migrations").joinpath(dialect)
    files = sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), folder.joinpath(name).read_text("utf-8")) for name in files]


def pending(dialect: str, applied: set[str]) -> list[tuple[str, str]]:
    return [(name, sql) for name, sql in migrations(dialect) if name not in applied]
