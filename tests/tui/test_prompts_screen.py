"""The Prompts screen: reached from the command palette, lists prompts and broken files, previews
the highlighted one, renders it with the arguments typed (errors shown, not raised)."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from nexus.tui.screens.prompts import PromptsScreen, parse_arguments
from tests.tui.conftest import make_test_app, settle, text_of
from tests.tui.fake_client import FakeClient

REVIEW = {
    "name": "review",
    "description": "Review the current diff",
    "arguments": [
        {"name": "focus", "description": "What to look at first", "required": True},
        {"name": "tone", "description": "How to say it", "required": False},
    ],
    "path": "/p/review.yaml",
    "template": "Look at {{ focus }} first. {{ tone }}",
}
SHIP = {**REVIEW, "name": "ship", "description": "Ship it", "arguments": [], "template": "Go."}


def test_arguments_are_shell_quoted_name_value_pairs():
    assert parse_arguments('focus=migrations tone="very brief"') == {
        "focus": "migrations",
        "tone": "very brief",
    }
    assert parse_arguments("") == {}
    try:
        parse_arguments("focus")
    except ValueError as exc:
        assert "'focus' is not name=value" in str(exc)
    else:
        raise AssertionError("a bare word must be refused")


async def test_list_preview_and_render():
    client = FakeClient()
    client.prompts = {"review": REVIEW, "ship": SHIP}
    client.prompt_errors = [{"path": "/p/broken.yaml", "error": "not valid YAML"}]
    app = make_test_app(client, follow_feed=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Prompts" in commands
        app.switch_mode("prompts")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, PromptsScreen)
        options = screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == [
            "review", "ship", "✗ /p/broken.yaml"
        ]  # fmt: skip
        preview = text_of(screen.query_one("#prompt-preview", Static))
        assert "Review the current diff" in preview and "focus (required)" in preview
        assert "Look at {{ focus }} first." in preview

        screen.query_one("#prompt-args", Input).focus()
        await pilot.press(*"focus=tests", "space", *'tone="be kind"', "enter")
        await settle(pilot, app)
        rendered = text_of(screen.query_one("#prompt-rendered", Static))
        assert rendered.strip() == "Look at tests first. be kind"
        assert ("render_prompt", ("review", {"focus": "tests", "tone": "be kind"})) in client.calls

        screen.query_one("#prompt-args", Input).value = "tone=x"
        await pilot.press("enter")
        await settle(pilot, app)
        assert "needs the argument 'focus'" in text_of(screen.query_one("#prompt-rendered", Static))

        await pilot.press("down")  # focus is in the input: the list keeps its place
        options.focus()
        await pilot.press("down")
        await settle(pilot, app)
        assert "Ship it" in text_of(screen.query_one("#prompt-preview", Static))
