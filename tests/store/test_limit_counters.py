"""The limit counters area on both dialects: increments add up per replica, a reader gets only the
rows stamped after its last look (by the database's clock), old rows are pruned, last use is kept."""

from __future__ import annotations

import asyncio

from nexus.records import CounterRow

HOUR = 3_600_000


def _row(replica: str, requests: int, *, kind: str = "minute", start: int = 0) -> CounterRow:
    return CounterRow("client:alice@h", kind, start, start + HOUR, replica, requests,
                      10 * requests, 1000 * requests, start + requests)  # fmt: skip


async def test_counter_rows_add_up_and_are_read_back_when_changed(store) -> None:
    now = await store.counters_clock_ms()
    start = now - now % HOUR
    await store.add_to_counters([_row("a", 2, start=start), _row("b", 1, start=start)])
    await store.add_to_counters([_row("a", 3, start=start)])
    clock, changed = await store.counters_changed(0, now - HOUR)
    assert clock >= now  # the database's clock as the rows were read
    rows = {r.replica: r for r in changed}
    assert (rows["a"].requests, rows["a"].tokens, rows["a"].cost_usd_micros) == (5, 50, 5000)
    assert rows["a"].last_at_ms == start + 3 and rows["b"].requests == 1
    written = await store.counters_clock_ms()
    while (later := await store.counters_clock_ms()) <= written:  # 'a' is older than `later - 1`
        await asyncio.sleep(0.001)
    clock, none = await store.counters_changed(later + 1, now - HOUR)
    assert none == [] and clock >= later  # the clock comes when no row does
    while await store.counters_clock_ms() <= later:  # a's rows may carry this very millisecond
        await asyncio.sleep(0.001)
    await store.add_to_counters([_row("b", 1, start=start)])
    (changed,) = (await store.counters_changed(later, now - HOUR))[1]
    assert changed.replica == "b" and changed.requests == 2


async def test_old_rows_are_pruned_and_month_rows_keep_last_use(store) -> None:
    now = await store.counters_clock_ms()
    await store.add_to_counters([
        _row("a", 1, start=now - 5 * HOUR),  # a minute row long gone
        _row("a", 4, kind="month", start=now - 5 * HOUR),
    ])  # fmt: skip
    assert await store.prune_counters(now) == 1
    assert await store.clients_last_used() == {"client:alice@h": now - 5 * HOUR + 4}
