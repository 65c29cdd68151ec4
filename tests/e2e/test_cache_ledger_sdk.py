"""One scripted prompt-cache break per cause, sent with the anthropic SDK through Nexus to the
caching fake upstream: the ledger names the cause and the excess cost to the micro-dollar, on
SQLite and Postgres; a session without breaks reports none. Expectations: cache_scenarios.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import orjson
import pytest
from typer.testing import CliRunner

from nexus.cli.main import app
from tests.e2e.cache_scenarios import (
    OPUS,
    SONNET,
    Chat,
    Clock,
    Expected,
    assert_ledger_says,
    caching_fake,
    expected_break,
    filler,
    ledger,
    text,
    tool,
)

pytest.importorskip("nexus.cache.ledger", reason="the cache ledger (issue 19) has not landed")

NONE = Expected(None)
Scenario = Callable[[Chat, Clock], Awaitable[list[Expected]]]


def big(chat: Chat, tag: str) -> dict[str, Any]:
    """A user message of ~2000 tokens, the chat's own: a miss of it is well over the ledger's
    tolerance, and no other scenario's request looks like this one's."""
    return text(filler(f"{chat.name} {tag}", 8000))


async def no_break(chat: Chat, clock: Clock) -> list[Expected]:
    await chat.turn(big(chat, "first"))
    clock.advance(240)  # idle, but inside the 5 minutes
    await chat.turn(text("second"))
    await chat.turn(text("third"))
    return [NONE, NONE, NONE]


async def one_hour_entries_outlive_ten_idle_minutes(chat: Chat, clock: Clock) -> list[Expected]:
    chat.ttl = "1h"
    chat.system[-1]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    await chat.turn(big(chat, "first"))
    clock.advance(600)
    await chat.turn(text("second"))
    return [NONE, NONE]


async def model_changed(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    r = await chat.turn(text("second"), model=SONNET)
    return [NONE, expected_break("model_changed", SONNET, p, r, OPUS, SONNET)]


async def ttl_expired(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    clock.advance(301)
    r = await chat.turn(text("second"))
    return [NONE, expected_break("ttl_expired", chat.model, p, r)]


async def ttl_expired_one_hour(chat: Chat, clock: Clock) -> list[Expected]:
    chat.ttl = "1h"
    chat.system[-1]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    p = await chat.turn(big(chat, "first"))
    clock.advance(3601)
    r = await chat.turn(text("second"))
    return [NONE, expected_break("ttl_expired", chat.model, p, r)]


async def tools_changed(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    r = await chat.turn(text("second"), tools=[*chat.tools, tool("Grep")])
    return [NONE, expected_break("tools_changed", chat.model, p, r, "Grep")]


async def system_changed(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    edited = dict(chat.system[-1], text=chat.system[-1]["text"].replace("12-03", "12-04"))
    r = await chat.turn(text("second"), system=[chat.system[0], edited])
    return [NONE, expected_break("system_changed", chat.model, p, r, "12-04")]


async def thinking_changed(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    r = await chat.turn(text("second"), thinking={"type": "enabled", "budget_tokens": 2048})
    return [NONE, expected_break("settings_changed", chat.model, p, r, "thinking")]


async def tool_choice_changed(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    r = await chat.turn(text("second"), tool_choice={"type": "any"})
    return [NONE, expected_break("settings_changed", chat.model, p, r, "tool_choice")]


async def breakpoints_moved(chat: Chat, clock: Clock) -> list[Expected]:
    """The new user message has 25 blocks and the only message breakpoint on its last: the API
    looks back 20 blocks from it and never reaches the entry the previous turn left."""
    p = await chat.turn(big(chat, "first"))
    r = await chat.turn(*[text(f"part {i} of a long paste") for i in range(25)])
    return [NONE, expected_break("breakpoints_moved", chat.model, p, r)]


async def history_edited_by_a_reminder(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    reminder = text("<system-reminder>\nThe user opened notes.txt.\n</system-reminder>")
    chat.messages[0]["content"].insert(0, reminder)
    r = await chat.turn(text("second"))
    return [NONE, expected_break("history_edited", chat.model, p, r, "system-reminder")]


async def history_rewound(chat: Chat, clock: Clock) -> list[Expected]:
    """Turn 3 rewinds turn 2 (same history up to turn 2's question, another question): what turn
    2 cached after the rewind point is written again."""
    await chat.turn(big(chat, "first"))
    p = await chat.turn(big(chat, "second"))
    del chat.messages[2:]
    r = await chat.turn(big(chat, "another second"))
    return [NONE, NONE, expected_break("history_edited", chat.model, p, r, "message 3")]


async def none_visible(chat: Chat, clock: Clock) -> list[Expected]:
    p = await chat.turn(big(chat, "first"))
    chat.cache.miss_next()
    r = await chat.turn(text("second"))
    return [NONE, expected_break("none_visible", chat.model, p, r)]


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (
        no_break,
        one_hour_entries_outlive_ten_idle_minutes,
        model_changed,
        ttl_expired,
        ttl_expired_one_hour,
        tools_changed,
        system_changed,
        thinking_changed,
        tool_choice_changed,
        breakpoints_moved,
        history_edited_by_a_reminder,
        history_rewound,
        none_visible,
    )
}


async def run_scenarios(
    names: list[str], serve_db_url: str, start_nexus: Any, fake_upstream: Any, monkeypatch: Any
) -> tuple[Any, list[Expected], list[dict[str, Any]]]:
    cache = caching_fake(fake_upstream)
    clock = Clock(monkeypatch, cache)
    server = await start_nexus(database_url=serve_db_url)
    expected: list[Expected] = []
    async with anthropic.AsyncAnthropic(
        base_url=server.endpoints.proxy_url, api_key="sk-ant-test", max_retries=0
    ) as client:
        for name in names:
            expected += await SCENARIOS[name](Chat(client, cache, name), clock)
    await server.flush()
    return server, expected, await ledger(server.endpoints.api_url, len(expected))


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_each_break_is_named_and_priced(
    name: str,
    serve_db_url: str,
    start_nexus: Any,
    fake_upstream: Any,
    monkeypatch: Any,
    request: pytest.FixtureRequest,
) -> None:
    _, expected, rows = await run_scenarios(
        [name], serve_db_url, start_nexus, fake_upstream, monkeypatch
    )
    assert_ledger_says(rows, expected, request.node.user_properties)


async def nexus_json(serve_db_url: str, data_dir: Any, *args: str) -> dict[str, Any]:
    """A ``nexus`` command with ``--json`` on the scenario's database (in a thread: it runs its
    own event loop; in process: it shares the test's clock)."""
    env = {"NEXUS_DATA_DIR": str(data_dir)}
    done = await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--db", serve_db_url, "--json"], env=env
    )
    assert done.exit_code == 0, done.output
    value: dict[str, Any] = orjson.loads(done.stdout)
    return value


@pytest.mark.slow
async def test_rebuild_equals_live_and_the_report_totals_each_cause(
    serve_db_url: str,
    start_nexus: Any,
    fake_upstream: Any,
    monkeypatch: Any,
    tmp_path: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Every scenario in one store: the ledger the recorder wrote live, the one
    ``nexus db rebuild-cache-ledger`` writes from scratch, and the expectation all agree."""
    names = list(SCENARIOS)
    _, expected, rows = await run_scenarios(
        names, serve_db_url, start_nexus, fake_upstream, monkeypatch
    )
    assert_ledger_says(rows, expected, request.node.user_properties)
    breaks = [e for e in expected if e.cause is not None]
    data = tmp_path / "cli-data"
    live = await nexus_json(serve_db_url, data, "cache", "--limit", "1000")
    assert live["totals"]["breaks"] == len(breaks)
    assert live["totals"]["excess_cost_usd_micros"] == sum(e.excess_cost_usd_micros for e in breaks)
    cost_by_cause: Counter[str] = Counter()
    for e in breaks:
        assert e.cause is not None
        cost_by_cause[e.cause] += e.excess_cost_usd_micros
    assert {g["group"]: g["excess_cost_usd_micros"] for g in live["groups"]} == cost_by_cause

    rebuilt = await nexus_json(serve_db_url, data, "db", "rebuild-cache-ledger")
    assert rebuilt["breaks"] == len(breaks)
    again = await nexus_json(serve_db_url, data, "cache", "--limit", "1000")
    assert again["breaks"] == live["breaks"]
    assert again["groups"] == live["groups"] and again["totals"] == live["totals"]
