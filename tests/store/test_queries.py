"""The named-query files: how ``-- name:`` blocks are cut."""

from __future__ import annotations

import re

import pytest

from nexus.records import ConversationSummary, Link, TrafficClass
from nexus.store.dialect import POSTGRES, SQLITE
from nexus.store.link_index import summary_params
from nexus.store.queries import COMMON, load, overrides, parse_queries
from nexus.store.queries.tables import BLOBS, CONVERSATIONS, LINKS, MESSAGE_NODES, REQUESTS
from nexus.store.rows import link_row, prepare_batch
from tests.factories import make_record


def test_a_comment_above_a_name_belongs_to_the_next_statement() -> None:
    queries = parse_queries(
        "-- name: one\nr.id = ?\n\n-- why two is written so\n-- name: two\n-- inside two\nSELECT 2;\n"
    )
    assert queries == {"one": "r.id = ?", "two": "-- inside two\nSELECT 2"}


def test_no_loaded_fragment_ends_in_a_comment() -> None:
    """Fragments are joined with AND; a trailing comment would swallow the next clause."""
    for dialect in ("sqlite", "postgres"):
        for name, sql in load(dialect).items():
            last = (sql.splitlines() or [""])[-1]  # an empty block: a dialect adds nothing there
            assert not last.lstrip().startswith("--"), (dialect, name)


def test_an_override_replaces_the_common_block_and_includes_are_resolved() -> None:
    sqlite, postgres = load("sqlite"), load("postgres")
    assert "FOR UPDATE SKIP LOCKED" in postgres["jobs_claim"]
    assert "FOR UPDATE" not in sqlite["jobs_claim"]
    assert "{" not in sqlite["jobs_get"] and "claim_token" in sqlite["jobs_get"]


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_an_override_differs_from_the_common_block(dialect: str) -> None:
    """A dialect file holds only what that dialect does differently."""
    common = parse_queries_of(COMMON)
    for name in overrides(dialect):
        assert load(dialect)[name] != common[name], (dialect, name)


def parse_queries_of(folder: str) -> dict[str, str]:
    from nexus.store.queries import _folder

    return _folder(folder)


def test_named_parameters_are_numbered_for_postgres_in_order_of_first_use() -> None:
    sql = "SELECT ':skip', x::text FROM t WHERE a = :b AND c = :a AND d = :b -- :not\n"
    text, names = POSTGRES.compile(sql)
    assert text == "SELECT ':skip', x::text FROM t WHERE a = $1 AND c = $2 AND d = $1 -- :not\n"
    assert names == ("b", "a")
    assert POSTGRES.bind(sql, {"a": 1, "b": 2})[1] == [2, 1]


def test_sqlite_keeps_names_and_reads_a_list_through_json_each() -> None:
    text, names = SQLITE.compile("SELECT 1 FROM t WHERE id = ANY(:ids) AND n = :n")
    assert text == "SELECT 1 FROM t WHERE id IN (SELECT value FROM json_each(:ids)) AND n = :n"
    assert names == ("ids", "n")
    assert SQLITE.array(["a", "b"]) == '["a","b"]'
    assert POSTGRES.array(("a", "b")) == ["a", "b"]


def _inserted_columns(sql: str) -> dict[str, list[str]]:
    found = re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", sql)
    return {table: [c.strip() for c in columns.split(",")] for table, columns in found}


def test_the_postgres_batch_write_fills_the_columns_the_single_row_inserts_fill() -> None:
    """``request_batch_write`` repeats the insert statements' column lists: a column added to
    one and not the other would be left at its default on Postgres only."""
    q = load("postgres")
    batch = _inserted_columns(q["request_batch_write"])
    single: dict[str, list[str]] = {}
    for name in ("blob_insert", "node_insert", "request_insert", "request_blob_insert",
                 "search_text_insert", "event_insert"):  # fmt: skip
        single.update(_inserted_columns(q[name]))
    assert batch == single


def test_the_rows_a_batch_binds_carry_the_declared_columns_in_order() -> None:
    """``tables.py`` is the one list of what a write fills: a value the Python side adds to a row
    but not to the declaration would be dropped without a word (both dialects bind by name)."""
    batch = prepare_batch([make_record()], set())
    assert tuple(batch.requests[next(iter(batch.requests))]) == REQUESTS.names
    assert {tuple(b) for b in batch.blobs} == {BLOBS.names}
    assert {tuple(n) for n in batch.nodes} == {MESSAGE_NODES.names}
    link = Link("r1", TrafficClass.OTHER, "c1", None, "main")
    assert tuple(link_row(link, 1)) == LINKS.names
    summary = ConversationSummary("c1", 1, 2, "r1", "h", None, None, None, 1, {"turn": 1}, 1, 0,
                                  1, 2, 3, 4, 5, ("m",), 6, "title", "last")  # fmt: skip
    assert tuple(summary_params(summary)) == CONVERSATIONS.names


def test_a_declared_table_writes_one_column_list_everywhere() -> None:
    q = load("postgres")
    columns = ", ".join(REQUESTS.names)
    assert f"INSERT INTO requests ({columns})" in q["request_batch_write"]
    assert f"INSERT INTO requests ({columns}) VALUES (:id, :started_at_ms" in q["request_insert"]
    assert "CAST(:node_task_count AS BIGINT[])" in q["conv_due_write"]
    assert "request_id = excluded.request_id" not in q["conv_node_upsert"]  # the conflict key
    assert "task_count = excluded.task_count" in q["conv_node_upsert"]
