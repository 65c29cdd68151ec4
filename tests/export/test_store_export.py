"""Export through a real store (SQLite and Postgres, the shared ``store`` fixture): the same
records give the same exports as from memory, and request bodies come back byte for byte."""

from __future__ import annotations

import pytest

from nexus.export import ExportFormat, ExportOptions, record_from_line, run_export
from nexus.store import Store
from tests.export.builders import MemorySource, scenario, to_link, to_record
from tests.export.test_jsonl import ODD_BODIES
from tests.factories import make_record


async def _export(source: object, fmt: ExportFormat, **kw: object) -> bytes:
    chunks: list[bytes] = []
    await run_export(source, ExportOptions(fmt, **kw), chunks.append)  # type: ignore[arg-type]
    return b"".join(chunks)


async def test_records_read_from_the_store_round_trip_through_jsonl(store: Store) -> None:
    records = [
        make_record(request_body=body, started_at_ms=1_700_000_000_000 + i)
        for i, body in enumerate(ODD_BODIES)
    ] + [
        make_record(user_text='naïve 你好 \u2028 "quoted" \\ back', started_at_ms=1_700_000_100_000)
    ]
    await store.write_batch(records)
    out = await _export(store, ExportFormat.JSONL)
    lines = out.splitlines(keepends=True)
    assert len(lines) == len(records)
    by_id = {r.id: r for r in records}
    for line in lines:
        back = record_from_line(line)
        original = by_id[back.summary.id]
        assert back.request_body == original.exchange.request_body
        assert back.response_body == original.exchange.response_body
        assert back == await store.get_request(back.summary.id)


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_every_format_is_the_same_from_the_store_as_from_memory(
    store: Store, fmt: ExportFormat
) -> None:
    stored, _ = scenario()
    await store.write_batch([to_record(s) for s in stored])
    await store.write_links([to_link(s) for s in stored])
    conversation = {"conversation_id": "conv-1"}
    from_store = await _export(store, fmt, **conversation)
    from_memory = await _export(MemorySource(stored), fmt, **conversation)
    assert from_store == from_memory
