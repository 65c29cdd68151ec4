"""The cache ledger over a real store (SQLite and Postgres): one scripted conversation per cause,
linked and ledgered as the recorder does it, then rebuilt from the store: same rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nexus.cache.ledger import CacheLedger
from nexus.conversations.worker import ConversationLinker
from nexus.records import CacheCause, RequestFilter
from tests.cache.conversation import TOOLS, Chat, system, user

pytestmark = pytest.mark.asyncio

# Opus 4.8 (the claude-opus-4-5 entry): a 5-minute write costs 6.25 $/MTok, a read 0.5, so each
# token written again instead of read costs 5.75 micro-dollars; a 1-hour write 10 → 9.5.
PER_TOKEN_5M = 5.75


async def record_live(store: Any, chat: Chat) -> CacheLedger:
    """Store, link and ledger each request as the recorder does: one batch per request."""
    linker = ConversationLinker(store)
    ledger = CacheLedger(store)
    for record in chat.records:
        await store.write_batch([record])
        links = await linker.link_batch([record])
        await ledger.after_linking([record], links, linker.known.generation)
    return ledger


def opening(chat: Chat) -> None:
    chat.send("first", read=0, write=10_000)
    chat.send("second", read=10_000, write=500)


def tool_added(chat: Chat) -> None:
    extra = {"name": "mcp__db__query", "description": "Query", "input_schema": {"type": "object"}}
    chat.send("third", read=0, write=11_000, tools=[*TOOLS, extra])


def system_edited(chat: Chat) -> None:
    chat.send("third", read=2_000, write=9_000, system_blocks=system(claude_md="Use uv run."))


def reminder_injected(chat: Chat) -> None:
    def inject(messages: list[Any]) -> None:
        messages[2]["content"].insert(
            0, {"type": "text", "text": "<system-reminder>file changed</system-reminder>"}
        )

    chat.send("third", read=9_000, write=1_800, edit=inject)


CASES: list[tuple[str, Callable[[Chat], None], CacheCause, int, str]] = [
    ("model", lambda c: c.send("third", read=0, write=11_000, model="claude-sonnet-4-6"),
     CacheCause.MODEL_CHANGED, 10_500, "claude-opus-4-8 → claude-sonnet-4-6"),
    ("ttl", lambda c: c.send("third", read=0, write=11_000, gap_ms=6 * 60_000),
     CacheCause.TTL_EXPIRED, 10_500, "lifetime 5 min"),
    ("tools", tool_added, CacheCause.TOOLS_CHANGED, 10_500, "added mcp__db__query"),
    ("system", system_edited, CacheCause.SYSTEM_CHANGED, 8_500,
     'system block 3 of 3 changed: "…CLAUDE.md: Run tests with pytest" → "…CLAUDE.md: Use uv run"'),
    ("thinking", lambda c: c.send("third", read=3_000, write=8_000,
                                  thinking={"type": "enabled", "budget_tokens": 4000}),
     CacheCause.SETTINGS_CHANGED, 7_500, 'thinking unset → {"budget_tokens":4000'),
    ("breakpoints", lambda c: c.send("third", read=0, write=0, breakpoints=False),
     CacheCause.BREAKPOINTS_MOVED, 10_500, "no cache_control"),
    ("history", reminder_injected, CacheCause.HISTORY_EDITED, 1_500,
     "message 3 (user) edited: a <system-reminder> injected"),
    ("server", lambda c: c.send("third", read=0, write=11_000),
     CacheCause.NONE_VISIBLE, 10_500, "identical"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "act", "cause", "missed", "detail"), CASES, ids=[c[0] for c in CASES]
)
async def test_each_cause_is_found_priced_and_rebuilt_the_same(
    store: Any,
    name: str,
    act: Callable[[Chat], None],
    cause: CacheCause,
    missed: int,
    detail: str,
) -> None:
    chat = Chat()
    opening(chat)
    act(chat)
    chat.send("fourth", read=chat.records[-1].usage.cache_read_input_tokens
              + chat.records[-1].usage.cache_creation_input_tokens, write=300)  # fmt: skip
    await record_live(store, chat)

    page = await store.list_cache_breaks(RequestFilter())
    assert [e.request_id for e in page.items] == [chat.records[2].id]
    entry = page.items[0]
    assert entry.cause == cause
    assert detail in entry.detail
    assert entry.predecessor_id == chat.records[1].id
    assert entry.missed_tokens == missed
    excess = round(missed * PER_TOKEN_5M)
    if name == "model":  # priced as the request that paid: Sonnet 4.6 writes 3.75, reads 0.3
        excess = round(missed * (3.75 - 0.3))
    if name == "breakpoints":  # nothing was written: the missed tokens were billed as input
        excess = round(missed * (5 - 0.5))
    assert entry.excess_cost_usd_micros == excess
    assert entry.session_id == chat.session

    stored = await store.get_request(chat.records[2].id)
    assert stored.summary.cache_break is not None
    assert stored.summary.cache_break.cause == cause
    assert stored.summary.cache_break.excess_cost_usd_micros == excess
    assert (await store.get_request(chat.records[3].id)).summary.cache_break is None

    live = (await store.list_cache_breaks(RequestFilter())).items
    await CacheLedger(store).rebuild()
    assert (await store.list_cache_breaks(RequestFilter())).items == live


async def test_a_session_without_breaks_has_no_ledger_rows(store: Any) -> None:
    chat = Chat()
    opening(chat)
    chat.send("third", read=10_500, write=400)
    chat.send("fourth", read=10_800, write=400, gap_ms=4 * 60_000)  # within the 5 minutes
    await record_live(store, chat)
    assert (await store.list_cache_breaks(RequestFilter())).items == []
    assert await store.cache_break_totals(RequestFilter(), "cause") == []


async def test_a_one_hour_breakpoint_survives_a_long_pause_but_not_an_hour(store: Any) -> None:
    chat = Chat()
    chat.send("first", read=0, write=0, write_1h=10_000, ttl="1h")
    chat.send("second", read=10_000, write=0, write_1h=500, ttl="1h", gap_ms=30 * 60_000)
    chat.send("third", read=0, write=0, write_1h=11_000, ttl="1h", gap_ms=61 * 60_000)
    await record_live(store, chat)
    [entry] = (await store.list_cache_breaks(RequestFilter())).items
    assert entry.request_id == chat.records[2].id
    assert entry.cause == CacheCause.TTL_EXPIRED
    assert "lifetime 1 h" in entry.detail
    assert entry.excess_cost_usd_micros == 10_500 * 95 // 10  # 1-hour writes: 10 - 0.5 $/MTok


async def test_a_line_followed_live_asks_the_store_for_its_first_predecessor_only(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While only this process links (the link generation goes up by one per batch), the ledger
    knows each next predecessor from the last record: one query for the line, not one per record."""
    asked: list[str] = []
    ask = store.cache_neighbours

    async def counted(*args: Any) -> Any:
        asked.append(args[0])
        return await ask(*args)

    monkeypatch.setattr(store, "cache_neighbours", counted)
    chat = Chat()
    opening(chat)
    chat.send("third", read=0, write=11_000, model="claude-sonnet-4-6")
    await record_live(store, chat)
    assert len(asked) == 1
    live = (await store.list_cache_breaks(RequestFilter())).items
    assert [(e.request_id, e.predecessor_id) for e in live] == [
        (chat.records[2].id, chat.records[1].id)
    ]


async def test_a_line_two_processes_write_takes_the_other_ones_request_as_predecessor(
    store: Any,
) -> None:
    """Postgres, two recorders: B links the second turn between A's first and third; A's ledger
    sees the link generation jump and asks the store instead of trusting what it last saw."""
    if store.dialect == "sqlite":
        pytest.skip("one process owns a SQLite store")
    chat = Chat()
    opening(chat)
    chat.send("third", read=0, write=11_000, model="claude-sonnet-4-6")
    a, b = (
        (ConversationLinker(store), CacheLedger(store)),
        (ConversationLinker(store), CacheLedger(store)),
    )
    for (linker, ledger), record in zip((a, b, a), chat.records, strict=True):
        await store.write_batch([record])
        links = await linker.link_batch([record])
        await ledger.after_linking([record], links, linker.known.generation)
    live = (await store.list_cache_breaks(RequestFilter())).items
    assert [(e.request_id, e.predecessor_id) for e in live] == [
        (chat.records[2].id, chat.records[1].id)
    ]
    await CacheLedger(store).rebuild()
    assert (await store.list_cache_breaks(RequestFilter())).items == live


async def test_a_late_request_re_checks_the_one_after_it(store: Any) -> None:
    """Live and rebuild agree when a line's requests are stored out of order."""
    chat = Chat()
    opening(chat)
    chat.send("third", read=0, write=11_000, model="claude-sonnet-4-6")
    linker, ledger = ConversationLinker(store), CacheLedger(store)
    for record in (chat.records[0], chat.records[2], chat.records[1]):
        await store.write_batch([record])
        await ledger.after_linking([record], await linker.link_batch([record]))
    live = (await store.list_cache_breaks(RequestFilter())).items
    assert [(e.request_id, e.predecessor_id) for e in live] == [
        (chat.records[2].id, chat.records[1].id)
    ]
    await CacheLedger(store).rebuild()
    assert (await store.list_cache_breaks(RequestFilter())).items == live


async def test_totals_by_cause_and_day_and_new_breaks_are_announced(store: Any) -> None:
    chat = Chat()
    opening(chat)
    chat.send("third", read=0, write=11_000, gap_ms=10 * 60_000)
    chat.send("fourth", read=0, write=11_500, model="claude-sonnet-4-6")
    seq = await store.last_event_seq()
    await record_live(store, chat)
    events = [e for e in await store.events_after(seq, 1000) if e.kind == "cache_break"]
    assert [e.ref_id for e in events] == [chat.records[2].id, chat.records[3].id]
    assert events[0].summary is not None and events[0].summary.cache_break is not None

    by_cause = await store.cache_break_totals(RequestFilter(), "cause")
    assert [(t.group, t.breaks, t.missed_tokens) for t in by_cause] == [
        ("ttl_expired", 1, 10_500),
        ("model_changed", 1, 11_000),
    ] or [(t.group, t.breaks) for t in by_cause] == [("model_changed", 1), ("ttl_expired", 1)]
    assert sum(t.excess_cost_usd_micros for t in by_cause) == round(10_500 * PER_TOKEN_5M) + round(
        11_000 * (3.75 - 0.3)
    )
    [day] = await store.cache_break_totals(RequestFilter(), "day")
    assert day.group == "2026-09-21" and day.breaks == 2
    [session] = await store.cache_break_totals(RequestFilter(session_id=chat.session), "session")
    assert session.group == chat.session
    assert await store.cache_break_totals(RequestFilter(session_id="other"), "session") == []

    first = await store.list_cache_breaks(RequestFilter(), limit=1)
    assert first.items[0].request_id == chat.records[3].id and first.next_cursor
    second = await store.list_cache_breaks(RequestFilter(), first.next_cursor, limit=1)
    assert second.items[0].request_id == chat.records[2].id and second.next_cursor is None


async def test_a_subagents_first_call_and_a_new_session_have_no_predecessor(store: Any) -> None:
    main = Chat()
    main.send("first", read=0, write=10_000)
    other = Chat(start_ms=main.at_ms + 1_000, session="5f0c8a7e-0000-4000-8000-00000000beef")
    other.messages = [user("first")][:0]
    other.send("first", read=0, write=10_000)
    main.records += other.records
    main.records.sort(key=lambda r: r.exchange.started_at_ms)
    await record_live(store, main)
    assert (await store.list_cache_breaks(RequestFilter())).items == []
