"""Cache breaks in the TUI: the mark on live rows and tree nodes, the cause on the request screen."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.text import Text

from nexus.records import CacheBreak, CacheCause, RequestSummary
from nexus.tui.app import NexusApp
from nexus.tui.cells import CACHE_BREAK_MARK
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from nexus.tui.widgets.request_table import RequestTable
from tests.tui import data
from tests.tui.conftest import (
    make_test_app,
    open_conversation,
    open_request,
    open_usage,
    settle,
    shot,
    text_of,
)
from tests.tui.fake_client import DemoClient, FakeClient

TTL_BREAK = CacheBreak(CacheCause.TTL_EXPIRED, "idle 7m12s (5m TTL)", 46_210, 123_456)
TOOLS_BREAK = CacheBreak(CacheCause.TOOLS_CHANGED, "added mcp__db__query", 1_200, None)


def broken(row: RequestSummary, brk: CacheBreak = TTL_BREAK) -> RequestSummary:
    return replace(row, cache_break=brk)


def client_with_breaks(*numbers: int) -> FakeClient:
    rows = [data.summary(i) for i in range(300)]
    for n in numbers:
        rows[n] = broken(rows[n])
    return FakeClient(rows)


def line(table: RequestTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_a_live_row_that_broke_the_cache_carries_the_mark_at_80_columns() -> None:
    app = make_test_app(client_with_breaks(297))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RequestTable)
        header, intact, marked = line(table, 0), line(table, 2), line(table, 3)
        assert table.rows.row(2).id == data.rid(297)
        assert CACHE_BREAK_MARK in marked and CACHE_BREAK_MARK not in intact
        # the mark rides in the preview: every column a narrow screen keeps is still there
        for title in ("time", "class", "st", "out", "cost", "preview"):
            assert title in header
        row = table.rows.row(2)
        assert "12:34:39" in marked  # time
        assert "turn" in marked and "200" in marked
        assert f"{CACHE_BREAK_MARK} {row.user_preview[:10]}" in marked
        assert len(marked) == 80


async def test_a_cache_break_event_marks_a_row_already_on_screen(client: FakeClient) -> None:
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RequestTable)
        assert CACHE_BREAK_MARK not in line(table, 3)
        client.record(broken(client.rows[2]), kind="cache_break")
        await settle(pilot, app)
        await pilot.pause(0.2)
        assert table.rows.row(2).cache_break == TTL_BREAK
        assert CACHE_BREAK_MARK in line(table, 3)
        assert CACHE_BREAK_MARK not in line(table, 2) + line(table, 4)


async def test_tree_nodes_that_broke_the_cache_carry_the_mark() -> None:
    client = DemoClient()
    conv = data.rid(280)
    tree = client.trees[conv]
    nodes = [broken(r) if r.id == data.rid(285) else r for r in tree.nodes]
    client.trees[conv] = replace(tree, nodes=nodes)
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_conversation(pilot, app, conv)
        lines = app.screen.query_one(ConversationTreeView).line_texts()
        marked = [text for text in lines if CACHE_BREAK_MARK in text]
        assert len(marked) == 1
        row = next(r for r in nodes if r.id == data.rid(285))
        assert row.user_preview[:20] in marked[0]
        assert marked[0].index(CACHE_BREAK_MARK) < marked[0].index(row.user_preview[:20])


async def test_the_request_screen_says_why_the_cache_missed_and_what_it_cost() -> None:
    client = FakeClient([broken(data.summary(7)), data.summary(8)])
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        head = text_of(screen.query_one("#request-head"))
        assert (
            f"{CACHE_BREAK_MARK} cache break: TTL expired · $0.1235 extra · "
            "46k tokens written again · idle 7m12s (5m TTL)"
        ) in head
        await pilot.press("u")
        await pilot.pause()
        timing = text_of(screen.query_one("#timing-body"))
        assert "cache break" in timing and "TTL expired" in timing
        assert "46,210" in timing and "$0.1235" in timing
        assert "idle 7m12s (5m TTL)" in timing


async def test_an_unpriced_break_says_unpriced_and_an_intact_request_says_nothing() -> None:
    client = FakeClient([broken(data.summary(7), TOOLS_BREAK), data.summary(8)])
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        head = text_of(screen.query_one("#request-head"))
        assert (
            "tools changed · the extra cost unpriced · 1.2k tokens written again · "
            "added mcp__db__query"
        ) in head
        app.pop_screen()
        screen = await open_request(pilot, app, data.rid(8))
        assert "cache break" not in text_of(screen.query_one("#request-head"))
        assert "cache break" not in text_of(screen.query_one("#timing-body"))


def test_the_mark_keeps_the_preview_style() -> None:
    from nexus.tui.widgets.request_table import _preview

    row = replace(broken(data.summary(3)), user_preview="", reply_preview="Done.")
    text: Text = _preview(row)
    assert text.plain == f"{CACHE_BREAK_MARK} Done."
    assert not text.style  # a base style would paint the whole preview bold red
    styles = {str(span.style) for span in text.spans}
    assert "italic" in styles and "bold red" in styles


def _conversation_with_breaks(client: DemoClient, conv: str) -> list[RequestSummary]:
    tree = client.trees[conv]
    breaks = {data.rid(285): TTL_BREAK, data.rid(290): TOOLS_BREAK, data.rid(296): TTL_BREAK}
    nodes = [replace(r, cache_break=breaks.get(r.id)) for r in tree.nodes]
    client.trees[conv] = replace(tree, nodes=nodes)
    client.cache_body = data.cache_doc(nodes)
    return nodes


async def test_numbers_tab_has_a_cache_section_from_the_conversations_ledger() -> None:
    client = DemoClient()
    conv = data.rid(280)
    nodes = _conversation_with_breaks(client, conv)
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_conversation(pilot, app, conv)
        assert not [c for c in client.calls if c[0] == "cache"]  # only when the tab is shown
        await pilot.press("n")
        await settle(pilot, app)
        (by, flt, limit), *_ = [c[1] for c in client.calls if c[0] == "cache"]
        assert by == "cause" and flt.conversation_id == conv and limit == 10
        section = " ".join(text_of(app.screen.query_one("#numbers-cache")).split())
        read = sum(r.usage.cache_read_input_tokens for r in nodes)
        write = sum(r.usage.cache_creation_input_tokens for r in nodes)
        assert f"efficiency {read / (read + write):.1%}" in section
        assert "breaks 3 · 94k tokens written again" in section  # 46,210 × 2 + 1,200
        assert "dollars lost $0.2469 (+1 unpriced)" in section  # 123,456 × 2
        assert "TTL expired 2 92k $0.2469" in section
        assert "tools changed 1 1.2k $0 (+1 unpriced)" in section
        assert "idle 7m12s (5m TTL)" in section and data.rid(296)[-12:] in section


async def test_a_conversation_without_breaks_says_so() -> None:
    client = DemoClient()
    conv = data.rid(280)
    client.cache_body = data.cache_doc(client.trees[conv].nodes)
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_conversation(pilot, app, conv)
        await pilot.press("n")
        await settle(pilot, app)
        section = " ".join(text_of(app.screen.query_one("#numbers-cache")).split())
        assert "breaks none: every request read what its predecessor cached" in section
        assert "dollars lost" not in section


async def test_usage_screen_shows_the_periods_cache_waste() -> None:
    client = DemoClient()
    conv = data.rid(280)
    nodes = _conversation_with_breaks(client, conv)
    app = make_test_app(client)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_usage(pilot, app)
        (by, flt, _limit), *_ = [c[1] for c in client.calls if c[0] == "cache"]
        assert by == "cause" and flt.since_ms == app.screen.since_ms  # the period shown
        totals = " ".join(text_of(app.screen.query_one("#totals")).split())
        read = sum(r.usage.cache_read_input_tokens for r in nodes)
        write = sum(r.usage.cache_creation_input_tokens for r in nodes)
        assert (
            f"{CACHE_BREAK_MARK} cache $0.2469 (+1 unpriced) lost to 3 breaks · efficiency "
            f"{read / (read + write):.1%} · 94k tokens written again · most lost to TTL expired"
        ) in totals


def test_the_usage_line_leaves_out_what_does_not_fit_an_80_column_box() -> None:
    from nexus.tui.widgets.cache_view import cache_waste_line

    doc = data.cache_doc(_conversation_with_breaks(DemoClient(), data.rid(280)))
    wide, narrow = cache_waste_line(doc, 200).plain, cache_waste_line(doc, 76).plain
    assert "most lost to TTL expired" in wide and "94k tokens written again" in wide
    assert len(narrow) <= 76 and "most lost to" not in narrow
    assert narrow.startswith(f" {CACHE_BREAK_MARK} cache $0.2469 (+1 unpriced) lost to 3 breaks")
    assert "efficiency" in narrow


async def test_usage_screen_leaves_the_cache_line_out_when_the_server_has_no_ledger() -> None:
    from nexus.errors import ApiError

    class OlderServer(DemoClient):
        async def cache(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise ApiError("not found", status=404)

    app = make_test_app(OlderServer())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_usage(pilot, app)
        totals = text_of(app.screen.query_one("#totals"))
        assert "alice" in totals and "cache $" not in totals and "efficiency" not in totals


def demo_with_breaks() -> DemoClient:
    """The demo data with three breaks in conversation …280 (two on the Live screen's first rows)."""
    client = DemoClient()
    conv = data.rid(280)
    nodes = _conversation_with_breaks(client, conv)
    by_id = {r.id: r for r in nodes}
    client.rows = [by_id.get(r.id, r) for r in client.rows]
    return client


def test_live_screen_with_cache_breaks_at_80_columns(snap_compare: Any) -> None:
    """The mark sits in front of the preview; the columns are those of the plain 80-column view."""

    assert shot(snap_compare, (80, 24), client=demo_with_breaks())


def open_broken(app: NexusApp) -> None:
    app.open_conversation(data.rid(280))


def test_conversation_tree_with_cache_breaks_at_80_columns(snap_compare: Any) -> None:
    assert shot(snap_compare, (80, 24), open_broken, client=demo_with_breaks())


def test_conversation_numbers_cache_section(snap_compare: Any) -> None:
    assert shot(snap_compare, (120, 40), open_broken, ("n",), client=demo_with_breaks())


async def test_the_numbers_tab_scrolls_from_the_keyboard_to_the_cache_section() -> None:
    """At 80×24 the Cache section is below the fold: the tab takes the focus so end reaches it."""
    from textual.containers import VerticalScroll

    app = make_test_app(demo_with_breaks())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_conversation(pilot, app, data.rid(280))
        await pilot.press("n")
        await settle(pilot, app)
        scroll = app.screen.query_one("#numbers-scroll", VerticalScroll)
        assert scroll.has_focus and scroll.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause(0.3)
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("t")  # the screen's keys still work from there
        assert app.screen.query_one(ConversationTreeView).has_focus


async def test_at_80_columns_the_break_line_is_cut_not_wrapped_keeping_cause_and_dollars() -> None:
    client = FakeClient([broken(data.summary(7)), data.summary(8)])
    app = make_test_app(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_request(pilot, app, data.rid(7))
        head = screen.query_one("#request-head")
        assert head.size.height == 4  # four lines, none wrapped
        line = next(x for x in text_of(head, width=80).splitlines() if "cache break" in x)
        assert line.startswith(" ✂ cache break: TTL expired · $0.1235 extra")


async def test_the_usage_cache_line_fits_the_terminal_again_after_a_resize() -> None:
    app = make_test_app(demo_with_breaks())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_usage(pilot, app)
        assert "most lost to" not in text_of(app.screen.query_one("#totals"), width=140)
        await pilot.resize_terminal(140, 40)
        await settle(pilot, app)
        assert "most lost to TTL expired" in text_of(app.screen.query_one("#totals"), width=140)
