"""The conversation read side on both stores (lists, filters, paging, trees), catching up after a
crash, and linkers of several processes sharing one Postgres."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from nexus.conversations.worker import ConversationLinker
from nexus.records import RequestFilter
from nexus.store import conversations
from tests.conversations.harness import link_live, rebuild, snapshot, tree
from tests.conversations.scenarios import SCENARIOS
from tests.conversations.traffic import Scope, Traffic, agent_call
from tests.fakes.stores import drop_pg_schema, make_pg_store


def _two_conversations() -> Traffic:
    t = Traffic()
    s = t.session(scope=Scope(account_id="team"))
    a = s.agent("write the release notes")
    a.send("a1")
    a.say("shorter").send("a2")
    b = t.session(scope=Scope(host="other:3000")).agent("review the parser")
    b.send("b1", tools=[agent_call("Read parse.py and list bugs.", "find bugs")])
    sub = b.session.subagent("Read parse.py and list bugs.")
    sub.send("s1")
    b.results("two bugs").send("b2")
    b.rewind(1).say("review the lexer instead").send("b3")
    s.background("q", "quota")
    return t


async def test_list_is_newest_first_with_counts_and_pages(store: Any) -> None:
    t = _two_conversations()
    await link_live(store, t.records)
    page = await store.list_conversations(RequestFilter())
    assert [c.id for c in page.items] == [t.labels["a1"], t.labels["b1"]]  # the quota call is last
    a, b = page.items
    assert (a.request_count, a.class_counts) == (3, {"turn": 2, "quota": 1})
    # main and the rewind; the sub-agent run is a sub-task, not a branch
    assert (b.request_count, b.branch_count, b.subtask_count) == (4, 2, 1)
    assert b.class_counts == {"turn": 3, "subagent": 1}
    assert a.title == "write the release notes" and a.account_id == "team"
    assert b.models == ("claude-opus-4-8",)
    assert b.input_tokens == 400 and b.latest_context_tokens > 0
    first = await store.list_conversations(RequestFilter(), limit=1)
    assert first.next_cursor is not None
    second = await store.list_conversations(RequestFilter(), cursor=first.next_cursor, limit=1)
    assert [c.id for c in first.items + second.items] == [a.id, b.id]
    assert second.next_cursor is None
    assert await store.count_conversations(RequestFilter()) == 2


@pytest.mark.parametrize(
    "flt,expected",
    [
        (RequestFilter(host="other:3000"), ["b1"]),
        (RequestFilter(account_id="team"), ["a1"]),
        (RequestFilter(model="opus"), ["a1", "b1"]),
        (RequestFilter(model="haiku"), ["a1"]),
        (RequestFilter(traffic_class="subagent"), ["b1"]),
        (RequestFilter(text="lexer"), ["b1"]),
        (RequestFilter(text="release"), ["a1"]),
        # Case never matters, on either dialect (Postgres' LIKE is case-sensitive, SQLite's not);
        # "Release Not" is no whole word, so only the title's substring match can find it.
        (RequestFilter(model="Opus"), ["a1", "b1"]),
        (RequestFilter(model="HAIKU"), ["a1"]),
        (RequestFilter(text="Release Not"), ["a1"]),
        (RequestFilter(text="REVIEW THE LEX"), ["b1"]),
    ],
)
async def test_list_filters(store: Any, flt: RequestFilter, expected: list[str]) -> None:
    t = _two_conversations()
    await link_live(store, t.records)
    page = await store.list_conversations(flt)
    assert sorted(t.label_of(c.id) for c in page.items) == expected
    assert await store.count_conversations(flt) == len(expected)


async def test_text_search_finds_any_request_of_a_conversation(store: Any) -> None:
    """A word said in a middle turn (neither the title nor the last prompt), or only in a reply,
    finds its conversation through the search index, on both stores."""
    t = _two_conversations()
    c = t.session(scope=Scope(account_id="zoo")).agent("hello there")
    c.send("c1")
    c.say("tell me about otters").send("c2", text="sea otters hold hands while asleep")
    c.say("thanks").send("c3")
    await link_live(store, t.records)
    for words, expected in [("otters", ["c1"]), ("hands asleep", ["c1"]), ("OTTERS", ["c1"]),
                            ("otters lexer", []), ("release", ["a1"])]:  # fmt: skip
        page = await store.list_conversations(RequestFilter(text=words))
        assert sorted(t.label_of(conv.id) for conv in page.items) == expected, words
        assert await store.count_conversations(RequestFilter(text=words)) == len(expected)
    scoped = RequestFilter(text="otters", account_id="team")
    assert (await store.list_conversations(scoped)).items == []


async def test_text_search_reads_matches_or_walks_conversations_alike(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text filter matching few requests reads their conversations (IN); one matching many walks
    conversations newest first (EXISTS), chosen by counting the index's matches up to
    ``FEW_MATCHES``. Both forms give the same pages (a cursor's too) and counts, on both stores."""
    t = Traffic()
    rare_in = {2, 5, 7}
    for i in range(9):
        a = t.session().agent(f"topic {i}")
        a.send(f"k{i}a")
        said = "otters swim" + (" past a narwhal" if i in rare_in else "")
        a.say("go on").send(f"k{i}b", text=said)  # a middle turn's reply: only the index has it
        a.say("thanks").send(f"k{i}c")
    await link_live(store, t.records)
    newest_first = [c.id for c in (await store.list_conversations(RequestFilter())).items]
    chose: list[bool] = []
    real_where = conversations.conversation_where

    def spy(*args: Any, **kwargs: Any) -> Any:
        chose.append(kwargs["few_matches"])
        return real_where(*args, **kwargs)

    monkeypatch.setattr(conversations, "conversation_where", spy)

    async def pages(words: str) -> tuple[list[str], int]:
        ids, cursor = [], None
        while True:
            page = await store.list_conversations(RequestFilter(text=words), cursor, limit=2)
            ids += [c.id for c in page.items]
            if (cursor := page.next_cursor) is None:
                return ids, await store.count_conversations(RequestFilter(text=words))

    rare = [c for c in newest_first if t.label_of(c) in {f"k{i}a" for i in rare_in}]
    for words, expected in [("narwhal", rare), ("otters", newest_first), ("NARWHAL swim", rare)]:
        for cap, few in [(0, False), (10**6, True)]:  # always walk; always read the matches
            monkeypatch.setattr(conversations, "FEW_MATCHES", cap)
            chose.clear()
            assert await pages(words) == (expected, len(expected)), (words, cap)
            assert set(chose) == {few}
    # The probe decides: the rare word (in 3 requests) is read, the common one (in 9) walked.
    monkeypatch.setattr(conversations, "FEW_MATCHES", 5)
    for words, few in [("narwhal", True), ("otters", False)]:
        chose.clear()
        await pages(words)
        assert set(chose) == {few}, words


async def test_tree_has_nodes_branches_and_subtasks(store: Any) -> None:
    t = _two_conversations()
    await link_live(store, t.records)
    conv = await store.get_conversation(t.labels["b1"])
    assert conv is not None
    assert [t.label_of(n.id) for n in conv.nodes] == ["b1", "s1", "b2", "b3"]
    assert [(n.branch, t.label_of(n.parent_request_id)) for n in conv.nodes] == [
        ("main", None),
        ("task-1", "b1"),
        ("main", "b1"),
        ("branch-2", None),
    ]
    assert [
        (b.name, b.kind, t.label_of(b.first_request_id), b.request_count) for b in conv.branches
    ] == [("main", "main", "b1", 2), ("task-1", "task", "s1", 1), ("branch-2", "rewind", "b3", 1)]
    [task] = conv.subtasks
    assert (task.description, task.subagent_type, t.label_of(task.subtask_of)) == (
        "find bugs",
        "general-purpose",
        "b1",
    )
    assert await store.get_conversation("nope") is None


async def test_catch_up_links_what_a_crash_left_unlinked(store: Any) -> None:
    t = Traffic()
    expected = SCENARIOS["one_subagent"](t)
    await store.write_batch(t.records[:2])
    linker = ConversationLinker(store)
    good = await linker.link_batch(t.records[:2])
    # A stale writer overwrote a link; the rest was recorded but the process died before linking.
    await store.write_links([dataclasses.replace(good[-1], branch="wrong", parent_request_id=None)])
    await store.write_batch(t.records[2:])
    assert len(await store.unlinked_request_ids()) == 2
    while await linker.catch_up(limit=1):
        pass
    assert await tree(store, t) == expected
    assert await store.unlinked_request_ids() == []
    assert await store.unpublished_links() == []


async def test_rebuild_of_an_up_to_date_store_writes_no_link(store: Any) -> None:
    t = Traffic()
    SCENARIOS["rewind_at_turn_3_both_continue"](t)
    await link_live(store, t.records)
    before = await snapshot(store)
    seq = await store.last_event_seq()
    await rebuild(store)
    assert await store.last_event_seq() == seq
    assert await snapshot(store) == before


@pytest.mark.postgres
async def test_linkers_of_two_processes_on_one_postgres_agree_with_rebuild(pg_url: str) -> None:
    """Two stores (two processes) link interleaved halves of the traffic at the same time."""
    from tests.conversations.random_traffic import random_traffic

    first, schema = await make_pg_store(pg_url)
    from nexus.store.postgres import PostgresStore

    second = PostgresStore(pg_url, schema=schema)
    await second.open()
    try:
        t = random_traffic(11, steps=24)
        records = sorted(t.records, key=lambda r: r.exchange.ended_at_ms)
        await asyncio.gather(link_live(first, records[0::2]), link_live(second, records[1::2]))
        assert await first.unpublished_links() == []
        live = await snapshot(first)
        await rebuild(first)
        assert await snapshot(second) == live
    finally:
        await second.close()
        await first.close()
        await drop_pg_schema(pg_url, schema)


async def test_after_prune_the_engine_forgets_deleted_requests(store: Any) -> None:
    t = Traffic()
    SCENARIOS["linear"](t)
    late = Traffic(clock_ms=1_900_000_000_000, session_salt=9)
    SCENARIOS["one_subagent"](late)
    await link_live(store, t.records + late.records)
    assert await store.prune(1_800_000_000_000) == len(t.records)
    assert await ConversationLinker(store).forget_pruned() == len(t.records)
    page = await store.list_conversations(RequestFilter())
    assert [c.id for c in page.items] == [late.labels["p1"]]
    assert page.items[0].request_count == len(late.records)
    assert await ConversationLinker(store).forget_pruned() == 0


async def test_a_linker_following_traffic_asks_for_existing_nodes_only_of_older_requests(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that starts after every node of the index has no node yet: the store is not asked
    for it. A replayed one (linked already) and a late one are asked, and linking stays equal to a
    rebuild."""
    from nexus.store.link_index import SqlLinkIndex

    asked: list[str] = []
    get_nodes = SqlLinkIndex.get_nodes

    async def counted(self: SqlLinkIndex, request_ids: Any) -> Any:
        asked.extend(request_ids)
        return await get_nodes(self, request_ids)

    monkeypatch.setattr(SqlLinkIndex, "get_nodes", counted)
    t = Traffic()
    SCENARIOS["rewind_at_turn_3_both_continue"](t)
    first, late, *rest = t.records
    linker = ConversationLinker(store)
    for chunk in ([first], *([r] for r in rest)):
        await store.write_batch(chunk)
        await linker.link_batch(chunk)
    assert asked == []
    await store.write_batch([late])
    await linker.link_batch([late, rest[0]])  # late, and a replay of one linked already
    assert sorted(asked) == sorted([late.id, rest[0].id])
    live = await snapshot(store)
    await rebuild(store)
    assert await snapshot(store) == live


async def test_after_a_partial_prune_the_conversation_left_is_recounted(store: Any) -> None:
    """The recount is written in a pass that publishes no link: it must still be committed."""
    t = Traffic()
    a = t.session().agent("write the release notes")
    a.send("a1")
    t.clock_ms = 1_900_000_000_000
    a.say("shorter").send("a2")
    a.say("shorter still").send("a3")
    await link_live(store, t.records)
    assert await store.prune(1_800_000_000_000) == 1
    assert await ConversationLinker(store).forget_pruned() == 1
    page = await store.list_conversations(RequestFilter())
    assert [(c.request_count, c.started_at_ms) for c in page.items] == [
        (2, t.records[1].exchange.started_at_ms)
    ]
