"""Every migration, on both dialects: applied to an empty database the two schemas agree with each
other (tables, columns, indexes, dialect-only search tables aside) and with the expectation in
``schema.json``; and a database holding rows at any earlier migration migrates to the latest with
every row kept (a migration that cannot run over rows — a NOT NULL column without a default, a
unique index the rows break — fails here, not on a user's database).

When a migration changes the schema on purpose, rewrite ``schema.json`` with
``python -m tests.store.test_migrations`` and review its diff.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from nexus.store import migrate
from tests.fakes.stores import drop_pg_schema

EXPECTED = Path(__file__).with_name("schema.json")
# Full-text search is the one place the dialects store differently: SQLite's FTS5 virtual table
# (and the shadow tables it makes) against Postgres's generated tsvector column and GIN index.
SQLITE_ONLY = "request_text_fts"
POSTGRES_ONLY_INDEXES = {"request_text_tsv"}
DIALECT_COLUMNS = {"request_text"}  # SQLite keeps ids for its FTS table, Postgres the tsvector
# Columns a CHECK constraint holds to a few values: the row gets one of them.
CHECKED = {"state": "pending"}
Schema = dict[str, dict[str, list[str]]]  # table → {"columns": [...], "indexes": [...]}


# -- reading a schema -----------------------------------------------------------------------------
def sqlite_schema(conn: sqlite3.Connection) -> Schema:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        if not name.startswith(SQLITE_ONLY)
    ]
    schema: Schema = {}
    for table in tables:
        columns = sorted(row[1] for row in conn.execute(f'PRAGMA table_info("{table}")'))
        indexes = sorted(
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND name NOT LIKE 'sqlite_autoindex%'",
                (table,),
            )
        )
        schema[table] = {"columns": columns, "indexes": indexes}
    return schema


async def postgres_schema(conn: Any, schema_name: str) -> Schema:
    schema: Schema = {}
    for row in await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = $1 ORDER BY table_name, column_name",
        schema_name,
    ):
        schema.setdefault(row[0], {"columns": [], "indexes": []})["columns"].append(row[1])
    for row in await conn.fetch(
        "SELECT i.tablename, i.indexname FROM pg_indexes i WHERE i.schemaname = $1 AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
        "AND c.connamespace = $1::regnamespace) ORDER BY 1, 2",
        schema_name,
    ):
        if row[1] not in POSTGRES_ONLY_INDEXES:
            schema[row[0]]["indexes"].append(row[1])
    return schema


# -- applying migrations --------------------------------------------------------------------------
def sqlite_migrate(conn: sqlite3.Connection, upto: int | None = None) -> None:
    """Apply the dialect's migrations in order (the first ``upto`` of them), as the store does."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at_ms INTEGER)"
    )
    applied = {name for (name,) in conn.execute("SELECT name FROM _migrations")}
    for name, sql in migrate.pending("sqlite", applied)[:upto]:
        conn.executescript(
            "BEGIN;\n" + sql + f"\nINSERT INTO _migrations VALUES ('{name}', 0);\nCOMMIT;"
        )


async def pg_migrate(conn: Any, upto: int | None = None) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)"
    )
    applied = {r[0] for r in await conn.fetch("SELECT name FROM _migrations")}
    for name, sql in migrate.pending("postgres", applied)[:upto]:
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute("INSERT INTO _migrations VALUES ($1, 0)", name)


async def pg_connection(url: str, schema_name: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(url, server_settings={"search_path": schema_name})
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_name}"')
    return conn


# -- filling tables with a row each ---------------------------------------------------------------
def _value(kind: str, n: int) -> Any:
    kind = kind.lower()
    if "int" in kind or kind in ("numeric", "real", "double precision"):
        return n
    if "bool" in kind:
        return True
    if kind in ("blob", "bytea"):
        return b"\x00row%d" % n
    if "json" in kind:
        return f'{{"row": {n}}}'
    return f"row {n}"


def sqlite_fill(conn: sqlite3.Connection, schema: Schema, n: int) -> None:
    for table in schema:
        if table == "_migrations":
            continue
        info = list(conn.execute(f'PRAGMA table_info("{table}")'))
        names = [c[1] for c in info]
        values = [CHECKED.get(c[1], _value(c[2], n)) for c in info]
        marks = ", ".join("?" * len(names))
        conn.execute(f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({marks})', values)
    conn.commit()


async def pg_fill(conn: Any, schema_name: str, n: int) -> None:
    columns = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $1 AND is_generated = 'NEVER' AND table_name <> '_migrations' "
        "ORDER BY table_name, ordinal_position",
        schema_name,
    )
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in columns:
        tables.setdefault(table, []).append((column, kind))
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # rows, not a graph
        for table, cols in tables.items():
            values = [CHECKED.get(c, _pg_value(kind, n)) for c, kind in cols]
            marks = ", ".join(
                f"${i + 1}::text::tsvector" if kind == "tsvector" else f"${i + 1}"
                for i, (_, kind) in enumerate(cols)
            )
            names = ", ".join(f'"{c}"' for c, _ in cols)
            await conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', *values)


def _pg_value(kind: str, n: int) -> Any:
    if kind == "tsvector":
        return f"row{n}"
    if kind == "jsonb" or kind == "json":
        return f'{{"row": {n}}}'
    if kind in ("double precision", "real", "numeric"):
        return float(n)
    return _value(kind, n)


async def pg_counts(conn: Any, tables: list[str]) -> dict[str, int]:
    return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}


def sqlite_counts(conn: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _comparable(schema: Schema) -> Schema:
    return {t: {"columns": [], "indexes": v["indexes"]} if t in DIALECT_COLUMNS else v
            for t, v in schema.items()}  # fmt: skip


# -- the tests ------------------------------------------------------------------------------------
def test_both_dialects_have_the_same_migrations() -> None:
    assert [n for n, _ in migrate.migrations("sqlite")] == [
        n for n, _ in migrate.migrations("postgres")
    ]


def test_sqlite_schema_is_the_expected_one(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "n.db")
    sqlite_migrate(conn)
    assert sqlite_schema(conn) == json.loads(EXPECTED.read_text())


@pytest.mark.postgres
async def test_postgres_schema_is_the_sqlite_one(tmp_path: Path, pg_url: str) -> None:
    conn = sqlite3.connect(tmp_path / "n.db")
    sqlite_migrate(conn)
    pg = await pg_connection(pg_url, "s_schema_compare")
    try:
        await pg_migrate(pg)
        assert _comparable(await postgres_schema(pg, "s_schema_compare")) == _comparable(
            sqlite_schema(conn)
        )
    finally:
        await pg.close()
        await drop_pg_schema(pg_url, "s_schema_compare")


@pytest.mark.parametrize("step", range(1, len(migrate.migrations("sqlite"))))
def test_sqlite_migrates_a_database_holding_rows(tmp_path: Path, step: int) -> None:
    conn = sqlite3.connect(tmp_path / "n.db")
    sqlite_migrate(conn, step)
    before = sqlite_schema(conn)
    sqlite_fill(conn, before, 1)
    tables = [t for t in before if t != "_migrations"]
    counts = sqlite_counts(conn, tables)
    sqlite_migrate(conn)
    assert sqlite_counts(conn, tables) == counts  # every row kept
    sqlite_fill(conn, sqlite_schema(conn), 2)  # and the latest schema takes new ones beside them


@pytest.mark.postgres
async def test_postgres_migrates_a_database_holding_rows(pg_url: str) -> None:
    for step in range(1, len(migrate.migrations("postgres"))):
        name = f"s_rows_{step}"
        pg = await pg_connection(pg_url, name)
        try:
            await pg_migrate(pg, step)
            tables = [t for t in await postgres_schema(pg, name) if t != "_migrations"]
            await pg_fill(pg, name, 1)
            counts = await pg_counts(pg, tables)
            await pg_migrate(pg)
            assert await pg_counts(pg, tables) == counts, f"after migration {step}"
            await pg_fill(pg, name, 2)
        finally:
            await pg.close()
            await drop_pg_schema(pg_url, name)


def _before(name: str) -> int:
    """How many migrations come before ``name``."""
    return [n for n, _ in migrate.migrations("sqlite")].index(name)


def test_sqlite_recounts_branches_without_sub_agent_runs(tmp_path: Path) -> None:
    """A conversation stored with one sub-agent and no rewind counted 2 branches (main and the
    sub-agent's); 0014 leaves 1: the sub-agent run is its sub-task."""
    conn = sqlite3.connect(tmp_path / "n.db")
    sqlite_migrate(conn, _before("0014_branch_count"))
    sqlite_fill(conn, sqlite_schema(conn), 1)
    conn.execute("UPDATE conversations SET branch_count = 2, subtask_count = 1")
    conn.commit()
    sqlite_migrate(conn)
    assert conn.execute("SELECT branch_count, subtask_count FROM conversations").fetchall() == [
        (1, 1)
    ]


@pytest.mark.postgres
async def test_postgres_recounts_branches_without_sub_agent_runs(pg_url: str) -> None:
    pg = await pg_connection(pg_url, "s_branch_count")
    try:
        await pg_migrate(pg, _before("0014_branch_count"))
        await pg_fill(pg, "s_branch_count", 1)
        await pg.execute("UPDATE conversations SET branch_count = 2, subtask_count = 1")
        await pg_migrate(pg)
        row = await pg.fetchrow("SELECT branch_count, subtask_count FROM conversations")
        assert tuple(row) == (1, 1)
    finally:
        await pg.close()
        await drop_pg_schema(pg_url, "s_branch_count")


if __name__ == "__main__":  # python -m tests.store.test_migrations: rewrite schema.json
    memory = sqlite3.connect(":memory:")
    sqlite_migrate(memory)
    EXPECTED.write_text(json.dumps(sqlite_schema(memory), indent=1) + "\n")
