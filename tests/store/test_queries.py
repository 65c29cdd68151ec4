"""The named-query files: how ``-- name:`` blocks are cut."""

from __future__ import annotations

from nexus.store.queries import load, parse_queries


def test_a_comment_above_a_name_belongs_to_the_next_statement() -> None:
    queries = parse_queries(
        "-- name: one\nr.id = ?\n\n-- why two is written so\n-- name: two\n-- inside two\nSELECT 2;\n"
    )
    assert queries == {"one": "r.id = ?", "two": "-- inside two\nSELECT 2"}


def test_no_loaded_fragment_ends_in_a_comment() -> None:
    """Fragments are joined with AND; a trailing comment would swallow the next clause."""
    for dialect in ("sqlite", "postgres"):
        for name, sql in load(dialect).items():
            assert not sql.splitlines()[-1].lstrip().startswith("--"), (dialect, name)
