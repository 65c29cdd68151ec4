"""``AnalysisPanel``: where an AI analysis of a conversation branch shows up — what to press when
there is none, its progress while queued or running, the server's message when it cannot run
(no ``GEMINI_API_KEY``), and the result as Markdown when done, with the prompt that made it
(the built-in one, or a prompt file's name). ``start_job`` asks the server for one."""

from __future__ import annotations

import asyncio
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import LoadingIndicator, Markdown, Static

from nexus.numbers import counted
from nexus.tui import cells

if TYPE_CHECKING:
    from nexus.tui.source import Source

_STATE_TEXT = {
    "pending": "queued: waiting for the analysis worker",
    "running": "running: the model is reading the conversation",
    "failed": "failed",
    "done": "done",
}


_IDLE = Text(
    "No analysis yet. Press a to ask the model what went well and what went wrong in this "
    "conversation.",
    style="dim",
)


class AnalysisPanel(VerticalScroll):
    DEFAULT_CSS = """
    AnalysisPanel { padding: 0 1; }
    AnalysisPanel #analysis-state { height: auto; margin: 1 0; }
    AnalysisPanel LoadingIndicator { height: 1; display: none; }
    AnalysisPanel.-busy LoadingIndicator { display: block; }
    AnalysisPanel Markdown { display: none; }
    AnalysisPanel.-done Markdown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static(_IDLE, id="analysis-state")

    def _spinner(self) -> None:
        """The spinner and the result view are mounted the first time they are needed: most
        visits to a conversation never start an analysis."""
        if not self.query(LoadingIndicator):
            self.mount(LoadingIndicator())

    @property
    def state(self) -> str | None:
        return self._state

    _state: str | None = None
    job_id: str | None = None
    prompt_version: str | None = None  # the shown job's prompt: reading it again reads that one

    def show_job(
        self,
        job: dict[str, Any],
        *,
        basis: tuple[int, int] | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        """Draw the job; ``basis`` is (requests it read, requests on the branch since)."""
        state = str(job.get("state") or "pending")
        self._state = state
        self.job_id = str(job.get("id")) if job.get("id") else self.job_id
        self.prompt_version = job.get("prompt_version") or self.prompt_version
        line = Text(f"Analysis of branch {job.get('branch', 'main')}: ", style="bold")
        line.append(_STATE_TEXT.get(state, state), style="green" if state == "done" else "yellow")
        attempts = job.get("attempts")
        if attempts and state != "done":
            line.append(f" (attempt {attempts})", style="dim")
        if job.get("error"):
            line.append(f"\n{job['error']}", style="red")
        if state == "done":
            made = job.get("finished_at_ms")
            if made:
                line.append(f"\nmade {cells.stamp(int(made), tz)}", style="dim")
            if basis is not None:
                line.append(f" from {counted(basis[0], 'request')}", style="dim")
            model = job.get("model")
            if model:
                line.append(f" · {model}", style="dim")
            # A line of its own: a prompt file's name would wrap the line above at 80 columns.
            line.append(f"\nprompt {job.get('prompt_name') or 'built-in'}", style="dim")
            if basis is not None and basis[1]:
                line.append(
                    f"\n⚠ stale: the branch has {counted(basis[1], 'more request')} since; "
                    "A runs the analysis again",
                    style="bold yellow",
                )
        self.query_one("#analysis-state", Static).update(line)
        if state in ("pending", "running"):
            self._spinner()
        self.set_class(state in ("pending", "running"), "-busy")
        self.set_class(state == "done", "-done")
        if state == "done":
            text = str(job.get("markdown") or "(empty result)")
            found = self.query(Markdown)
            if found:
                found.first().update(text)
            else:
                self.mount(Markdown(text))

    def reset(self) -> None:
        self._state = None
        self.job_id = None
        self.prompt_version = None
        self.query_one("#analysis-state", Static).update(_IDLE)
        self.set_class(False, "-busy")
        self.set_class(False, "-done")

    def show_message(self, message: str, *, is_error: bool = True) -> None:
        self._state = "error" if is_error else None
        self.query_one("#analysis-state", Static).update(
            Text(message, style="bold red" if is_error else "dim")
        )
        self.set_class(False, "-busy")
        self.set_class(False, "-done")


async def start_job(
    client: Source,
    conversation_id: str,
    branch: str,
    *,
    force: bool = False,
    prompt_file: Path | None = None,
) -> dict[str, Any]:
    """Ask the server to analyse ``branch``: with the built-in prompt, or the prompt in
    ``prompt_file`` (read and checked here, so a bad file is named before anything is sent;
    raises ``ValueError`` saying what is wrong with it)."""
    if prompt_file is None:
        return await client.start_analysis(conversation_id, branch, force=force)
    from nexus.analysis.prompts import read_prompt_file

    prompt = await asyncio.to_thread(read_prompt_file, prompt_file)
    return await client.start_analysis(
        conversation_id, branch, force=force, prompt=prompt.text, prompt_name=prompt.name
    )
