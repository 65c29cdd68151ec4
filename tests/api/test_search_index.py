"""The search index catches up on requests a crash left unindexed; the listener survives outages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nexus.errors import StoreUnavailable
from nexus.events import EventBus, listen_for_events
from nexus.records import RequestFilter
from tests.factories import make_record


async def test_backlog_indexes_requests_written_without_search_text(store: Any) -> None:
    old = [
        make_record(started_at_ms=1_700_000_000_000 + i, user_text=f"orphan {i}") for i in range(3)
    ]
    new = make_record(started_at_ms=1_800_000_000_000, user_text="orphan fresh")
    await store.write_batch([new, *old])
    # Search text is written in the batch's own transaction; requests stored without it come from
    # versions before that (or a prune that crashed after unindexing them): take theirs away.
    placeholder = "?" if store.dialect == "sqlite" else "$1"
    for record in old:
        await store._execute(
            f"DELETE FROM request_text WHERE request_id = {placeholder}", [record.id]
        )
    assert [r.id for r in (await store.list_requests(RequestFilter(text="orphan"))).items] == [
        new.id
    ]
    assert await store.index_search_backlog() == 3
    assert await store.index_search_backlog() == 0
    found = await store.list_requests(RequestFilter(text="orphan"), limit=2)
    assert [r.id for r in found.items] == [new.id, old[2].id]
    rest = await store.list_requests(RequestFilter(text="orphan"), found.next_cursor, 10)
    assert [r.id for r in rest.items] == [old[1].id, old[0].id]


async def test_pruned_requests_leave_the_index(store: Any) -> None:
    old = make_record(started_at_ms=1_700_000_000_000, user_text="ephemeral words")
    await store.write_batch([old])
    await store.prune(1_750_000_000_000)
    assert (await store.list_requests(RequestFilter(text="ephemeral"))).items == []
    assert await store.index_search_backlog() == 0


class _FlakyListener:
    def __init__(self) -> None:
        self.calls = 0

    async def wait_for_notifications(self, on_notify: Callable[[], None]) -> None:
        self.calls += 1
        if self.calls < 3:
            raise StoreUnavailable("connection lost")
        on_notify()


async def test_listener_reconnects_after_outages_and_wakes_readers() -> None:
    bus = EventBus()
    store = _FlakyListener()
    with bus.subscribe() as sub:
        await listen_for_events(store, bus, retry_s=0.001)  # type: ignore[arg-type]
        assert store.calls == 3
        assert await sub.wait(0) is True
