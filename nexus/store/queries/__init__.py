"""Every SQL statement, loaded once per dialect from ``-- name: query_name`` blocks.

``common/<area>.sql`` holds what both dialects run as written; ``<dialect>/<area>.sql`` holds only
what that dialect does differently: a block of the same name replaces the common one, a new name is
that dialect's own (SQLite's FTS walk, say). Parameters are ``:name``; ``{block}`` includes another
block by name (``{summary_columns}``), resolved at load; any other ``{word}`` is left for the area to
fill at run time (``{where}``). Names are unique across the files of one folder. The column
lists of the tables the store writes are blocks too, generated from one declaration
(``tables.py``: ``{requests_cols}``, ``{requests_arrays}``, …).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.abc import Traversable

from nexus.store.queries import tables

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"\{(\w+)\}")
COMMON = "common"


def parse_queries(text: str, source: str = "<string>") -> dict[str, str]:
    queries: dict[str, str] = {}
    parts = _NAME.split(text)
    for name, sql in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} defined twice in {source}")
        queries[name] = _without_trailing_comments(sql).rstrip(";")
    return queries


def _without_trailing_comments(sql: str) -> str:
    """A comment written above a ``-- name:`` line belongs to the next statement, not to the end of
    this one: left there it would comment out whatever follows a fragment joined into a WHERE."""
    lines = sql.strip().splitlines()
    while lines and lines[-1].lstrip().startswith("--"):
        lines.pop()
    return "\n".join(lines).strip()


def _folder(name: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    folder: Traversable = resources.files(__package__).joinpath(name)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for query, sql in parse_queries(entry.read_text("utf-8"), entry.name).items():
            if query in queries:
                raise ValueError(f"query {query!r} defined in two {name} files")
            queries[query] = sql
    return queries


@functools.cache
def load(dialect: str) -> dict[str, str]:
    """All named queries of one dialect (``sqlite`` or ``postgres``): common ones, overridden."""
    queries = {**tables.fragments(), **_folder(COMMON), **_folder(dialect)}
    return {name: _expand(queries, name, ()) for name in queries}


def _expand(queries: dict[str, str], name: str, seen: tuple[str, ...]) -> str:
    if name in seen:
        raise ValueError(f"query {name!r} includes itself: {' -> '.join((*seen, name))}")

    def include(match: re.Match[str]) -> str:
        ref = match[1]
        return _expand(queries, ref, (*seen, name)) if ref in queries else match[0]

    return _INCLUDE.sub(include, queries[name])


def overrides(dialect: str) -> set[str]:
    """Names the dialect's folder replaces (for tests: an override must differ from common)."""
    return set(_folder(COMMON)) & set(_folder(dialect))
