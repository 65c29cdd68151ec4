"""Deep links: ``nexus tui --conversation ID [--branch B]`` / ``--request ID`` open straight there,
every detail screen shows its full id, and ``i`` copies a ``nexus tui …`` line and the API URL that
the CLI parses back to the same place."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from typer.testing import CliRunner

from nexus.cli.main import app as cli_app
from nexus.tui.links import DeepLink
from nexus.tui.screens.conversation import ConversationScreen
from nexus.tui.screens.conversations import ConversationsScreen
from nexus.tui.screens.live import LiveScreen
from nexus.tui.screens.request import RequestScreen
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from tests.tui import data
from tests.tui.conftest import make_test_app, settle, text_of
from tests.tui.fake_client import DemoClient

BRANCHED = data.rid(1000)


def parsed_by_the_cli(line: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, DeepLink]:
    """What ``nexus tui`` would open for a copied command line (its run replaced by a probe)."""
    seen: dict[str, Any] = {}

    def probe(settings: Any, url: str, tz: Any, start: DeepLink, first_page: Any) -> int:
        seen.update(url=url, start=start)
        return 0

    monkeypatch.setattr("nexus.cli.tui._run", probe)
    monkeypatch.setattr("nexus.cli.output.run", lambda code, debug=False: code)
    words = shlex.split(line)
    assert words[:2] == ["nexus", "tui"]
    result = CliRunner().invoke(cli_app, words[1:])
    assert result.exit_code == 0, result.output
    return seen["url"], seen["start"]


async def test_conversation_link_opens_the_branch_and_escape_lands_on_the_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = DeepLink(conversation_id=BRANCHED, branch="branch-2")
    app = make_test_app(DemoClient(), start=start)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ConversationScreen) and screen.conversation_id == BRANCHED
        view = screen.query_one(ConversationTreeView)
        assert view.cursor_request_id == data.rid(1007)  # where branch-2 starts
        assert BRANCHED in text_of(screen.query_one("#conversation-head"))
        await pilot.press("i")
        line, url = app.clipboard.splitlines()
        assert url == f"http://127.0.0.1:3001/api/conversations/{BRANCHED}"
        assert parsed_by_the_cli(line, monkeypatch) == ("http://127.0.0.1:3001", start)
        view.focus_request(data.rid(1006))  # a main-line turn: the link has no --branch
        await pilot.press("i")
        assert "--branch" not in app.clipboard and f"--conversation {BRANCHED}" in app.clipboard
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, ConversationsScreen)


async def test_request_link_opens_the_request_shows_its_id_and_copies_a_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request_id = data.rid(7)
    app = make_test_app(DemoClient(), start=DeepLink(request_id=request_id))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RequestScreen) and screen.request_id == request_id
        assert f"request {request_id}" in text_of(screen.query_one("#request-head"))
        await pilot.press("i")
        line, url = app.clipboard.splitlines()
        assert url == f"http://127.0.0.1:3001/api/requests/{request_id}"
        assert parsed_by_the_cli(line, monkeypatch)[1] == DeepLink(request_id=request_id)
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, LiveScreen)


async def test_an_unknown_branch_is_named_and_the_tree_still_opens() -> None:
    app = make_test_app(DemoClient(), start=DeepLink(conversation_id=BRANCHED, branch="branch-9"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, ConversationScreen)
        said = " ".join(str(n.message) for n in app._notifications)
        assert "no branch 'branch-9'" in said and "branch-2" in said


@pytest.mark.parametrize(
    "args,problem",
    [
        (["--branch", "main"], "needs the conversation"),
        (["--conversation", "c", "--request", "r"], "not both"),
    ],
)
def test_the_cli_refuses_a_link_it_cannot_open(args: list[str], problem: str) -> None:
    result = CliRunner().invoke(cli_app, ["tui", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and problem in result.output


def test_options_have_environment_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_TUI_CONVERSATION", BRANCHED)
    monkeypatch.setenv("NEXUS_TUI_BRANCH", "task-1")
    assert parsed_by_the_cli("nexus tui", monkeypatch)[1] == DeepLink(BRANCHED, "task-1")
