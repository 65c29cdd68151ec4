"""The assembled response message is stored compressed when that pays, and read back the same;
rows written before it was compressed read back unchanged too (the stored bytes say which)."""

from __future__ import annotations

from typing import Any

from tests.factories import make_record


async def test_the_response_message_reads_back_exactly(store: Any) -> None:
    record = make_record(reply_text="a long reply that compresses well " * 40)
    await store.write_batch([record])
    stored_raw = await store._fetchone(
        "SELECT response_message FROM requests WHERE id = "
        + ("?" if store.dialect == "sqlite" else "$1"),
        [record.id],
    )
    assert len(bytes(stored_raw[0])) < len(record.response_message) / 2
    stored = await store.get_request(record.id)
    assert stored.response_message == record.response_message


async def test_a_message_stored_uncompressed_by_an_older_version_reads_back(store: Any) -> None:
    record = make_record(reply_text="written before compression " * 40)
    await store.write_batch([record])
    placeholders = ("?", "?") if store.dialect == "sqlite" else ("$1", "$2")
    await store._execute(
        f"UPDATE requests SET response_message = {placeholders[0]} WHERE id = {placeholders[1]}",
        [record.response_message, record.id],
    )
    stored = await store.get_request(record.id)
    assert stored.response_message == record.response_message
