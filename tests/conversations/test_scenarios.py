"""Every scenario of scenarios.py gives its expected tree on both stores, whether records arrive in
the order they ended, in reverse, or shuffled; and a rebuild gives the same links and summaries."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.conversations.harness import link_live, rebuild, snapshot, tree
from tests.conversations.scenarios import SCENARIOS
from tests.conversations.traffic import Traffic


def _arrivals(traffic: Traffic, order: str) -> list[Any]:
    ended = sorted(traffic.records, key=lambda r: r.exchange.ended_at_ms)
    if order == "reversed":
        return list(reversed(ended))
    if order == "shuffled":
        random.Random(7).shuffle(ended)
    return ended


@pytest.mark.parametrize("order", ["ended", "reversed", "shuffled"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_builds_expected_tree(store: Any, name: str, order: str) -> None:
    traffic = Traffic()
    expected = SCENARIOS[name](traffic)
    assert set(expected) == set(traffic.labels), "the scenario must state every request"
    await link_live(store, _arrivals(traffic, order), batch=1 if order != "shuffled" else 3)
    assert await tree(store, traffic) == expected
    assert await store.unpublished_links() == []
    live = await snapshot(store)
    await rebuild(store)
    assert await tree(store, traffic) == expected
    assert await snapshot(store) == live
