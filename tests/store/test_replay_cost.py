"""A replay or a retry writes nothing twice and does no work for what the store already holds: the
requests it has are not cut, hashed or compressed again (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.store import rows
from nexus.store.requests import Requests
from tests.factories import make_record
from tests.fakes.stores import drop_pg_schema, make_pg_store


async def test_a_replayed_batch_is_not_cut_again(store: Any, monkeypatch: pytest.MonkeyPatch):
    stored = [make_record(started_at_ms=1_700_000_000_000 + i) for i in range(3)]
    await store.write_batch(stored)
    last_seq = await store.last_event_seq()
    cut: list[bytes] = []
    real = rows.decompose

    def counting(body: bytes, *args: Any) -> Any:
        cut.append(body)
        return real(body, *args)

    monkeypatch.setattr(rows, "decompose", counting)
    fresh = make_record(started_at_ms=1_700_000_009_000)
    await store.write_batch([*stored, fresh])  # the spool read back after a crash, plus one more

    assert cut == [fresh.exchange.request_body]
    events = await store.events_after(last_seq)
    assert [(e.kind, e.ref_id) for e in events] == [("request", fresh.id)]


@pytest.mark.postgres
async def test_a_request_another_replica_stored_meanwhile_is_skipped_whole(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Postgres asks what is stored outside the statement that writes the batch: a replica that
    stores the same request in between must leave one request, one event and one search row."""
    store, schema = await make_pg_store(pg_url)
    try:
        record = make_record(started_at_ms=1_700_000_000_000)
        await store.write_batch([record])
        last_seq = await store.last_event_seq()

        async def stale(self: Requests, db: Any, records: Any) -> list[Any]:
            return list(records)  # the check ran before the other replica's commit

        monkeypatch.setattr(Requests, "_new", stale)
        fresh = make_record(started_at_ms=1_700_000_001_000)
        await store.write_batch([record, fresh])

        events = await store.events_after(last_seq)
        assert [(e.kind, e.ref_id) for e in events] == [("request", fresh.id)]
        counts = await store.connector.fetchone(
            "SELECT (SELECT count(*) FROM requests) AS requests,"
            " (SELECT count(*) FROM request_text) AS texts,"
            " (SELECT count(*) FROM events WHERE kind = 'request') AS events",
            {},
        )
        assert (counts["requests"], counts["texts"], counts["events"]) == (2, 2, 2)
    finally:
        await store.close()
        await drop_pg_schema(pg_url, schema)
