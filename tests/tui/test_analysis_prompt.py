"""Choosing the analysis prompt from the TUI, against a real ``nexus serve`` and the fake Gemini:
``A`` asks which prompt; a prompt file's instructions reach the model in place of the built-in
ones (the answer's fields still described), the result says which prompt made it, and the
built-in prompt's result stays beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus.analysis.prompts import BUILT_IN
from nexus.client import NexusClient
from nexus.tui.widgets.analysis_panel import AnalysisPanel
from nexus.tui.widgets.prompt_chooser import PromptChooser
from tests.fakes.nexus import StartNexus
from tests.tui.conftest import text_of
from tests.tui.seed import seed
from tests.tui.test_real_server import conversation_drawn, tui, wait_for

FOCUS = "Look only at how the developer handled secrets: API keys pasted into prompts or files."


async def test_a_rerun_with_a_prompt_file_sends_its_instructions_and_names_it(
    start_nexus: StartNexus, fake_gemini: Any, tmp_path: Path
) -> None:
    server = await start_nexus(gemini_api_key="test-key", gemini_url=fake_gemini.url)
    await seed(server, conversations=1, turns=3)
    prompt_file = tmp_path / "secrets-review.md"
    prompt_file.write_text(FOCUS + "\n")
    async with NexusClient(server.endpoints.api_url) as client:
        conversation = (await client.list_conversations()).items[0]
        app = tui(server, client)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, app, lambda: app.connection.is_live)
            app.open_conversation(conversation.id)
            screen = await conversation_drawn(pilot, app)
            panel = screen.query_one(AnalysisPanel)
            await pilot.press("a")  # the built-in prompt first
            await wait_for(pilot, app, lambda: panel.state == "done", tries=1500)
            assert "prompt built-in" in text_of(panel.query_one("#analysis-state"))

            await pilot.press("A")
            await wait_for(pilot, app, lambda: isinstance(app.screen, PromptChooser))
            await pilot.press(*str(prompt_file), "enter")
            await wait_for(
                pilot,
                app,
                lambda: (
                    panel.state == "done" and (panel.prompt_version or "").startswith("custom-")
                ),
                tries=1500,
            )
            state = text_of(panel.query_one("#analysis-state"), width=78)
            assert "prompt secrets-review.md" in state

            system = fake_gemini.calls[-1].text
            assert FOCUS in system and "Answer with one JSON object" in system
            assert "Your reader is a team lead" not in system  # the built-in instructions
            assert "Your reader is a team lead" in fake_gemini.calls[0].text

            built_in = await client.get_analysis(conversation.id, "main")
            custom = await client.get_analysis(conversation.id, "main", panel.prompt_version)
            assert built_in["prompt_name"] == BUILT_IN and built_in["prompt_text"] is None
            assert custom["prompt_name"] == "secrets-review.md"
            assert custom["prompt_text"] == FOCUS
            assert "prompt secrets-review.md" in custom["markdown"].splitlines()[0]

            await pilot.press("A")  # a file that is not there is named, and nothing is sent
            await wait_for(pilot, app, lambda: isinstance(app.screen, PromptChooser))
            calls = len(fake_gemini.calls)
            await pilot.press("ctrl+u", *str(tmp_path / "missing.md"), "enter")
            await wait_for(pilot, app, lambda: panel.state == "error")
            assert "cannot read the prompt file" in text_of(panel.query_one("#analysis-state"))
            assert len(fake_gemini.calls) == calls
