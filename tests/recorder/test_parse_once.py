"""Each request body is parsed once per record: derive parses it and the record carries the parse
to cutting, search indexing and linking (nexus/wire.py). A 200 KB body parsed four times was a
third of the recorder's CPU (benchmarks/recorder_cost.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nexus.conversations.worker import ConversationLinker
from nexus.recorder.derive import derive
from nexus.records import RequestFilter
from tests.factories import turn


async def test_a_body_is_parsed_once_from_spool_to_link(
    store: Any, monkeypatch: pytest.MonkeyPatch
):
    first = turn(None, "fix the flaky test", at_ms=1_700_000_000_000, session_id="s-1")
    second = turn(first, "now the other one", at_ms=1_700_000_001_000)
    records = [derive(r.exchange) for r in (first, second)]
    bodies = {r.exchange.request_body for r in records}
    parses: list[bytes] = []
    real_loads = orjson.loads

    def counting_loads(data: Any) -> Any:
        if data in bodies:
            parses.append(data)
        return real_loads(data)

    monkeypatch.setattr(orjson, "loads", counting_loads)
    records = [derive(r.exchange) for r in (first, second)]
    await store.write_batch(records)
    links = await ConversationLinker(store).link_batch(records)

    assert len(parses) == 2  # once per record, in derive
    assert {lk.conversation_id for lk in links} == {first.id}
    stored = await store.get_request(second.id)
    assert stored is not None and stored.request_body == second.exchange.request_body
    found = await store.list_requests(RequestFilter(text="other one"))
    assert [s.id for s in found.items] == [second.id]
