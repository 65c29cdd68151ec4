"""Every SQL statement, loaded once from ``<dialect>/*.sql`` files as ``-- name: query_name`` blocks.

Each area (core, conversations, usage, jobs, events) keeps its statements in its own file; names are
unique across the files of one dialect, and both dialects expose the same names.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


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


@functools.cache
def load(dialect: str) -> dict[str, str]:
    """All named queries of one dialect (``sqlite`` or ``postgres``)."""
    queries: dict[str, str] = {}
    folder = resources.files(__package__).joinpath(dialect)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, sql in parse_queries(entry.read_text("utf-8"), entry.name).items():
            if name in queries:
                raise ValueError(f"query {name!r} defined in two {dialect} files")
            queries[name] = sql
    return queries
