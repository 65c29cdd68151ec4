"""The search index keeps no copy of the text it indexes (issue 18, migration 0007): a long
conversation of big prompts leaves a store close to its unique content, rows indexed before the
migration are still found after it, and a prune takes its requests' tokens out of the index."""

from __future__ import annotations

import random
import sqlite3
import string
from pathlib import Path
from typing import Any

from nexus.records import RequestFilter, RequestRecord
from nexus.store.search import search_text
from tests.factories import turn
from tests.store.distinct_content import distinct_body_bytes

T0 = 1_700_000_000_000
_LETTERS = random.Random(5)
# 5 000 random words of 3-9 letters: the size of index and blobs the issue measured (FTS 0.63 MB,
# blobs 0.54 MB for this conversation); random letters alone make every word new (a 2.4x store).
_VOCABULARY = [
    "".join(_LETTERS.choice(string.ascii_lowercase) for _ in range(_LETTERS.randint(3, 9)))
    for _ in range(5000)
]


def prose(rnd: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rnd.choice(_VOCABULARY))
    return " ".join(words)


def conversation(turns: int, prompt_chars: int) -> list[RequestRecord]:
    rnd = random.Random(1)
    records: list[RequestRecord] = []
    previous = None
    for n in range(turns):
        previous = turn(
            previous, prose(rnd, prompt_chars), at_ms=T0 + n * 1000, reply_text=prose(rnd, 400)
        )
        records.append(previous)
    return records


def unique_content(records: list[RequestRecord]) -> int:
    """Distinct messages, system prompt, tools and the rest of each body once, plus responses."""
    bodies = distinct_body_bytes(r.exchange.request_body for r in records)
    return bodies + sum(len(r.exchange.response_body) for r in records)


def pages_in_use(path: Path) -> int:
    """Bytes of the database's pages that hold data (free pages are reused by the next writes)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


async def test_a_conversation_of_big_prompts_stores_little_more_than_its_content(tmp_path: Path):
    from nexus.store.sqlite import SqliteStore

    path = tmp_path / "nexus.db"
    store = SqliteStore(path)
    await store.open()
    empty = pages_in_use(path)
    records = conversation(turns=100, prompt_chars=8000)
    for record in records:  # one per batch, as a recorder keeping up writes them
        await store.write_batch([record])
    needle = records[57].exchange.request_body.split(b'"text":"')[-1][:60].decode().split()[3]
    found = await store.list_requests(RequestFilter(text=needle))
    await store.close()

    ratio = (pages_in_use(path) - empty) / unique_content(records)
    # Measured 1.50 (2.71 with the text stored beside its index); the rest is the positional index
    # of 5 000 distinct words (0.55 MB) and the compressed prompts (0.54 MB). A little headroom for
    # other SQLite versions' page packing.
    assert ratio <= 1.55, f"store is {ratio:.2f}x its unique content"
    assert records[57].id in [s.id for s in found.items]


async def test_search_text_is_not_stored(store: Any) -> None:
    record = turn(None, "the zebra crossing is painted", at_ms=T0)
    await store.write_batch([record])
    if store.dialect == "sqlite":
        columns = await store._fetchall("SELECT name FROM pragma_table_info('request_text')")
        index_sql = await store._fetchall(
            "SELECT sql FROM sqlite_schema WHERE name = 'request_text_fts'"
        )
        assert "content=''" in index_sql[0][0]
    else:
        columns = await store._fetchall(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'request_text' AND table_schema = current_schema()"
        )
    assert "text" not in {c[0] for c in columns}
    assert [s.id for s in (await store.list_requests(RequestFilter(text="zebra"))).items] == [
        record.id
    ]


async def test_rows_indexed_before_the_migration_are_found_after_it(store: Any) -> None:
    first = turn(None, "the walrus sleeps on the ice", at_ms=T0)
    second = turn(first, "and the narwhal swims below", at_ms=T0 + 1000)
    await store.write_batch([first, second])
    await _back_to_0006(store, [first, second])
    await store.close()
    await store.open()  # applies 0007 to the rows indexed the old way

    third = turn(second, "a walrus again", at_ms=T0 + 2000)
    await store.write_batch([third])
    for word, expected in (("walrus", [third.id, first.id]), ("narwhal", [second.id])):
        found = await store.list_requests(RequestFilter(text=word))
        assert [s.id for s in found.items] == expected, word


async def test_a_prune_takes_its_requests_out_of_the_index(tmp_path: Path) -> None:
    from nexus.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "nexus.db")
    await store.open()
    old = turn(None, "the quokka smiles at tourists", at_ms=T0)
    new = turn(None, "the axolotl regrows its legs", at_ms=T0 + 10_000)
    await store.write_batch([old, new])
    assert await _documents_with(store, "quokka") == 1

    assert await store.prune(T0 + 5_000) == 1

    assert await _documents_with(store, "quokka") == 0  # its tokens are gone, not just its row
    assert await _documents_with(store, "axolotl") == 1
    assert [s.id for s in (await store.list_requests(RequestFilter(text="axolotl"))).items] == [
        new.id
    ]
    await store.close()


async def _documents_with(store: Any, term: str) -> int:
    """How many rows of the index hold ``term`` (fts5vocab reads the index itself)."""
    conn = store.connector._writer_conn()
    await conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocabulary"
        " USING fts5vocab(main, request_text_fts, 'row')"
    )
    rows = list(
        await conn.execute_fetchall("SELECT doc FROM temp.search_vocabulary WHERE term = ?", [term])
    )
    return int(rows[0][0]) if rows else 0


async def _back_to_0006(store: Any, records: list[RequestRecord]) -> None:
    """Put the search tables back as migration 0005 left them, holding ``records``' text."""
    texts = [(r.id, search_text(r)) for r in records]
    if store.dialect == "sqlite":
        async with store._transaction() as tx:
            for statement in (
                "DROP TRIGGER request_text_in_insert",
                "DROP VIEW request_text_in",
                "DROP TRIGGER requests_search_pruned",
                "DROP TABLE request_text_fts",
                "DROP TABLE request_text",
                "DELETE FROM _migrations WHERE name LIKE '0007%'",
            ):
                await tx.execute(statement)
        await store.connector._writer_conn().executescript(
            _migration("sqlite", "0005_search")
            + "".join(
                f"INSERT INTO request_text (request_id, text) VALUES ('{i}', '{t}');"
                for i, t in texts
            )
        )
    else:
        async with store._transaction() as tx:
            await tx.execute("DROP TABLE request_text")
            await tx.execute("DROP TRIGGER events_in_commit_order ON events")
            await tx.execute("DROP FUNCTION nexus_events_serialize()")
            await tx.execute("DELETE FROM _migrations WHERE name LIKE '0007%'")
            await tx.execute(_migration("postgres", "0005_search"))
            await tx.executemany(
                "INSERT INTO request_text (request_id, text) VALUES ($1, $2)", texts
            )


def _migration(dialect: str, name: str) -> str:
    from nexus.store.migrate import migrations

    return dict(migrations(dialect))[name]
