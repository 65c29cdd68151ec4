"""Cache breaks (issue 19's ledger on request summaries) in the TUI: a ``✂`` on the live row and
the tree node, the cause and its cost on the request's head, and a Cache section in the
conversation's Numbers tab."""

from __future__ import annotations

from dataclasses import replace

from nexus.records import CacheBreak, CacheCause
from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from nexus.tui.widgets.request_table import RequestTable
from tests.tui import data
from tests.tui.conftest import make_test_app, open_conversation, settle, text_of
from tests.tui.fake_client import DemoClient, FakeClient

BREAK = CacheBreak(CacheCause.TTL_EXPIRED, "idle 7m > 5m", 12_345, 41_000)


async def test_a_live_row_is_marked_and_its_detail_names_the_cause() -> None:
    rows = [data.summary(n, cache_break=BREAK if n == 4 else None) for n in range(5)]
    app = make_test_app(FakeClient(rows))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RequestTable)
        lines = [table.render_line(y).text for y in range(6)]
        marked = [line for line in lines if "✂" in line]
        assert len(marked) == 1 and "12:00:28" in marked[0]  # the 5th request, T0 + 28 s
        app.open_request(data.rid(4))
        await settle(pilot, app)
        assert isinstance(app.screen, RequestScreen)
        head = text_of(app.screen.query_one("#request-head"))
        assert "✂ cache break: TTL expired · $0.0410 extra · 12k tokens written again" in head
        assert "· idle 7m > 5m" in head
        app.pop_screen()
        app.open_request(data.rid(3))
        await settle(pilot, app)
        assert "cache break" not in text_of(app.screen.query_one("#request-head"))


async def test_the_tree_marks_the_break_and_numbers_has_a_cache_section() -> None:
    client = DemoClient()
    conv = data.rid(1000)
    tree = client.trees[conv]
    nodes = [replace(r, cache_break=BREAK) if r.id == data.rid(1006) else r for r in tree.nodes]
    client.trees[conv] = replace(tree, nodes=nodes)
    client.cache_body = data.cache_doc(nodes)  # what /api/cache answers for this conversation
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_conversation(pilot, app, conv)
        assert isinstance(app.screen, ConversationScreen)
        lines = app.screen.query_one(ConversationTreeView).line_texts()
        assert [line for line in lines if "✂" in line] == [
            line for line in lines if "now also add a test for the rollback" in line
        ]
        await pilot.press("n")
        await settle(pilot, app)
        section = " ".join(text_of(app.screen.query_one("#numbers-cache")).split())
        assert "breaks 1 · 12k tokens written again" in section
        assert "dollars lost $0.0410" in section and "TTL expired 1 12k $0.0410" in section
