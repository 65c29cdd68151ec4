"""Property: for random traffic and any arrival order and batching, live linking (with its repairs)
ends in exactly the links and conversation summaries that a rebuild in canonical order gives."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conversations.harness import link_live, rebuild, snapshot
from tests.conversations.random_traffic import random_traffic
from tests.fakes.stores import drop_pg_schema, make_pg_store


async def _live_equals_rebuild(store: Any, seed: int, order: list[int], batch: int) -> None:
    traffic = random_traffic(seed)
    records = sorted(traffic.records, key=lambda r: r.exchange.ended_at_ms)
    arrivals = [records[i % len(records)] for i in order if i < len(records)]
    arrivals += [r for r in records if r not in arrivals]
    await link_live(store, arrivals, batch=batch)
    assert await store.unpublished_links() == []
    live = await snapshot(store)
    await rebuild(store)
    assert await snapshot(store) == live


_orders = st.lists(st.integers(0, 80), min_size=0, max_size=80, unique=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), order=_orders, batch=st.integers(1, 5))
def test_live_linking_equals_rebuild_sqlite(seed: int, order: list[int], batch: int) -> None:
    from nexus.store.sqlite import SqliteStore

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(Path(tmp) / "nexus.db")
            await store.open()
            try:
                await _live_equals_rebuild(store, seed, order, batch)
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.postgres
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000), order=_orders, batch=st.integers(1, 5))
def test_live_linking_equals_rebuild_postgres(
    pg_url: str, seed: int, order: list[int], batch: int
) -> None:
    async def run() -> None:
        store, schema = await make_pg_store(pg_url)
        try:
            await _live_equals_rebuild(store, seed, order, batch)
        finally:
            await store.close()
            await drop_pg_schema(pg_url, schema)

    asyncio.run(run())
