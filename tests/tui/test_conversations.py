"""Conversations list, one conversation's tree/timeline/numbers, and analysis from the keyboard."""

from __future__ import annotations

from textual.widgets import DataTable, TabbedContent

from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.conversations import ConversationsScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.analysis_panel import AnalysisPanel
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from nexus.tui.widgets.prompt_chooser import PromptChooser
from nexus.tui.widgets.status_bar import StatusBar
from tests.tui import data
from tests.tui.conftest import make_test_app, open_conversation, settle, text_of
from tests.tui.fake_client import DemoClient

BRANCHED = data.rid(1000)


async def open_conversations(pilot, app) -> ConversationsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot, app)
    await pilot.press("2")
    await settle(pilot, app)
    assert isinstance(app.screen, ConversationsScreen)
    return app.screen


async def open_branched(pilot, app) -> ConversationScreen:  # type: ignore[no-untyped-def]
    """The branched conversation's screen, loaded."""
    return await open_conversation(pilot, app, BRANCHED)


async def test_list_shows_numbers_and_a_context_gauge() -> None:
    client = DemoClient()
    app = make_test_app(client)
    async with app.run_test(size=(150, 40)) as pilot:  # room for every column
        screen = await open_conversations(pilot, app)
        table = screen.query_one(DataTable)
        assert table.row_count == len(client.conversations) == 16

        def cell(column: str) -> str:
            return str(table.get_cell(BRANCHED, column))

        assert (cell("reqs"), cell("br"), cell("sub")) == ("10", "3", "1")
        assert "146k/200k" in cell("context")  # 145 600 tokens, rounded


async def test_a_narrow_list_keeps_the_title_and_the_money() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_conversations(pilot, app)
        table = screen.query_one(DataTable)
        assert len(table.columns) == 11
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        keys = [str(k.value) for k in table.columns]
        assert keys == ["conv", "last", "account", "title", "reqs", "tokens", "cost"]
        assert table.row_count == 16 and str(table.get_cell(BRANCHED, "cost")).startswith("$")
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80 - 2


async def test_list_pages_in_as_the_cursor_nears_the_end() -> None:
    client = DemoClient()
    app = make_test_app(client, page_size=10)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_conversations(pilot, app)
        table = screen.query_one(DataTable)
        assert table.row_count == 10
        await pilot.press("down", "down", "down", "down")
        await settle(pilot, app)
        assert table.row_count == 10
        await pilot.press("down")
        await settle(pilot, app)
        assert table.row_count == 16 and screen.next_cursor is None


async def test_enter_opens_the_tree_with_branches_and_subagents_nested() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_branched(pilot, app)
        view = screen.query_one(ConversationTreeView)
        assert len(view.nodes_by_id) == 10
        task_node = view.nodes_by_id[data.rid(1003)]
        assert task_node.parent.branch.name == "task-1"
        assert view.nodes_by_id[data.rid(1002)] is task_node.parent.parent
        lines = view.line_texts()
        heading = next(line for line in lines if "task-1" in line)
        assert heading.startswith("└─ ▼ ⤷ task-1 · general-purpose “Find migrations”")
        assert any(line.startswith("   ├─ ") and "search the repo" in line for line in lines)
        head = text_of(screen.query_one("#conversation-head"))
        assert "10 requests · 3 branches · 1 sub-task" in head and "(72%)" in head
        view.focus_request(data.rid(1003))
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RequestScreen) and app.screen.request_id == data.rid(1003)


async def test_timeline_and_numbers_tabs() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_branched(pilot, app)
        await pilot.press("l")
        assert app.screen.query_one(TabbedContent).active == "timeline"
        timeline = text_of(app.screen.query_one("#timeline-body"))
        assert "⚙ tools 5.0s" in timeline and "✎ person 1m02s" in timeline
        await pilot.press("n")
        numbers = text_of(app.screen.query_one("#numbers-body"))
        assert " ".join(numbers.split()).count("tool-execution time 27.0s") == 1
        assert "compact-1" in numbers


async def test_b_hides_background_calls() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_branched(pilot, app)
        await pilot.press("b")
        assert len(app.screen.query_one(ConversationTreeView).nodes_by_id) == 9


async def test_analysis_shows_progress_then_the_result_from_the_live_feed() -> None:
    client = DemoClient()
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await client.feed_opened.wait()
        await open_branched(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        panel = app.screen.query_one(AnalysisPanel)
        assert panel.state == "pending" and panel.has_class("-busy")
        assert ("start_analysis", (BRANCHED, "main")) in client.calls
        client.finish_analysis(BRANCHED, "main", "# Summary\n\nThe migration was fixed.")
        await settle(pilot, app)
        assert panel.state == "done" and panel.has_class("-done")
        state = text_of(panel.query_one("#analysis-state"))
        # it ran a minute in: the main line's first three turns, then two more came (1006, 1008)
        assert "made 2025-06-01 12:01:15 from 3 requests · gemini-test" in state
        assert "stale: the branch has 2 more requests since; A runs the analysis again" in state
        assert "\nprompt built-in" in state
        await pilot.press("A")  # which prompt: enter on the empty line keeps the built-in one
        await settle(pilot, app)
        assert isinstance(app.screen, PromptChooser)
        await pilot.press("enter")
        await settle(pilot, app)
        assert ("start_analysis", (BRANCHED, "main", "force")) in client.calls
        assert client.analysis_prompts[-1] == (None, None)


async def test_analysis_without_a_gemini_key_shows_the_servers_message() -> None:
    client = DemoClient()
    client.analysis_error = "analysis needs GEMINI_API_KEY on the server"
    app = make_test_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_conversations(pilot, app)
        await pilot.press("a")  # from the list: opens the conversation and starts it
        await settle(pilot, app)
        assert isinstance(app.screen, ConversationScreen)
        panel = app.screen.query_one(AnalysisPanel)
        assert "GEMINI_API_KEY" in text_of(panel.query_one("#analysis-state"))
        del screen


async def test_space_folds_a_branch_and_opening_a_hidden_request_unfolds_it() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_branched(pilot, app)
        view = app.screen.query_one(ConversationTreeView)
        before = len(view.line_texts())
        view.focus_request(data.rid(1003))
        await pilot.press("up", "space")  # the task-1 heading
        assert len(view.line_texts()) == before - 2
        assert view.focus_request(data.rid(1004))
        assert len(view.line_texts()) == before and view.cursor_request_id == data.rid(1004)


async def test_the_header_fits_80_columns_without_wrapping() -> None:
    """Three lines at 80 columns (title cut, the full id kept; the time span and account left
    out where they do not fit); at 150 columns they are back."""
    app = make_test_app(DemoClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_branched(pilot, app)
        head = text_of(app.screen.query_one("#conversation-head"), width=80)
        lines = head.rstrip("\n").split("\n")
        assert len(lines) == 3, head
        assert lines[0].rstrip().endswith(BRANCHED)
        assert "10 requests · 3 branches · 1 sub-task" in lines[1]
        assert "(72%)" in lines[2]
        await pilot.resize_terminal(150, 40)
        await settle(pilot, app)
        wide = text_of(app.screen.query_one("#conversation-head"), width=150)
        assert "→" in wide.split("\n")[1]


async def test_branch_filter_shows_a_branch_with_its_lineage_then_alone() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_branched(pilot, app)
        view = screen.query_one(ConversationTreeView)
        view.focus_request(data.rid(1007))  # on the rewind, branch-2
        await pilot.press("f")
        await settle(pilot, app)
        shown = set(view.nodes_by_id)
        assert data.rid(1007) in shown and data.rid(1000) in shown and data.rid(1008) in shown
        assert data.rid(1001) in shown  # a background call stays with the request it followed
        assert not shown & {data.rid(1003), data.rid(1004), data.rid(1009)}
        status = str(screen.query_one(StatusBar).render())
        assert "branches: main + branch-2" in status
        await pilot.press("f")
        await settle(pilot, app)
        assert set(view.nodes_by_id) == {data.rid(1007)}
        assert "branches: branch-2" in str(screen.query_one(StatusBar).render())
        await pilot.press("f")
        await settle(pilot, app)
        assert len(view.nodes_by_id) == 10
        assert "branches:" not in str(screen.query_one(StatusBar).render())


async def test_prompt_keys_jump_between_typed_turns_skipping_tool_results() -> None:
    app = make_test_app(DemoClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_branched(pilot, app)
        view = app.screen.query_one(ConversationTreeView)
        assert view.cursor_request_id == data.rid(1000)
        visited = []
        for _ in range(3):
            await pilot.press("right_square_bracket")
            visited.append(view.cursor_request_id)
        # 1002 and 1005 carry tool results back, 1001/1003/1004 are not turns: skipped
        assert visited == [data.rid(1007), data.rid(1006), data.rid(1009)]
        await pilot.press("right_square_bracket")
        assert view.cursor_request_id == data.rid(1009)
        assert "no prompt below" in [n.message for n in app._notifications][-1]
        await pilot.press("left_square_bracket")
        assert view.cursor_request_id == data.rid(1006)
