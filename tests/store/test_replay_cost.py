"""A replay or a retry writes nothing twice and does no work for what the store already holds: the
requests it has are not cut, hashed or compressed again (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.store import rows
from tests.factories import make_record


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
