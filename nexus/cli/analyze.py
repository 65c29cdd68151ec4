"""`nexus analyze`: start the AI analysis of a conversation branch, wait for it, list jobs.

Locally (``--db``) the job is enqueued in the database; with ``--wait`` this command also runs the
analysis itself (it needs ``GEMINI_API_KEY``), so no server has to be running. With ``--server`` the
server's worker does the work and this command asks its API. stdout carries the result (markdown,
or the job document with ``--json``); progress goes to stderr.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from nexus.cli import options
from nexus.cli.output import err, fail, out, print_json, run

if TYPE_CHECKING:
    from nexus.analysis.prompts import PromptChoice
    from nexus.client import NexusClient
    from nexus.settings import Settings

_TERMINAL = ("done", "failed")

Branch = Annotated[str, typer.Option("--branch", "-b", help="The branch to analyse.")]
Wait = Annotated[bool, typer.Option("--wait", "-w", help="Wait for the result and print it.")]
Force = Annotated[bool, typer.Option("--force", help="Analyse again even if a result exists.")]
Jobs = Annotated[bool, typer.Option("--jobs", help="List analysis jobs and their states.")]
State = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on 3.11
    typer.Option("--state", help="With --jobs: only pending, running, done or failed jobs."),
]
Limit = Annotated[int, typer.Option("--limit", help="With --jobs: at most this many jobs.")]
PromptFile = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on 3.11
    typer.Option(
        "--prompt",
        help="A prompt file: your instructions in place of the built-in ones (what to look at, "
        "for whom); the answer fills the same fields. Its result is stored beside the built-in "
        "prompt's, named by the file.",
        show_default=False,
    ),
]


def analyze(
    conversation: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="The conversation id (see `nexus tui` or /api/conversations)."),
    ] = None,
    branch: Branch = "main",
    wait: Wait = False,
    force: Force = False,
    prompt: PromptFile = None,
    jobs: Jobs = False,
    state: State = None,
    limit: Limit = 50,
    as_json: options.Json = False,
    db: options.Db = None,
    data_dir: options.DataDir = None,
    server: options.Server = None,
    key: options.ApiKey = None,
    debug: options.Debug = False,
) -> None:
    """Ask Gemini what went well and wrong in a conversation, or list analysis jobs (--jobs).

    Locally this needs GEMINI_API_KEY (model: GEMINI_MODEL, default gemini-2.5-pro); with --server
    the server's key and worker are used.
    """
    local = options.settings(db=db, data_dir=data_dir)
    if jobs:
        if state is not None and state not in ("pending", "running", "done", "failed"):
            fail("--state takes pending, running, done or failed", 2)
        items = run(_list(local, server, key, state, limit), debug=debug)
        _print_jobs(items, as_json)
        return
    if not conversation:
        fail("give a CONVERSATION id, or --jobs to list analysis jobs", 2)
    choice = _prompt_choice(prompt)
    job = run(_analyze(conversation, branch, wait, force, choice, local, server, key), debug=debug)
    if as_json:
        print_json(job)
    elif job["state"] == "done" and job.get("markdown"):
        out.out(job["markdown"], highlight=False, end="")
    else:
        out.out(_line(job), highlight=False)
    if job["state"] == "failed":
        raise typer.Exit(1)


def _prompt_choice(path: Path | None) -> PromptChoice:
    from nexus.analysis.prompts import BadPrompt, PromptChoice, read_prompt_file

    if path is None:
        return PromptChoice()
    try:
        return read_prompt_file(path)
    except BadPrompt as exc:
        fail(str(exc), 2)


# -- local database ------------------------------------------------------------------------------


async def _analyze(
    conversation: str,
    branch: str,
    wait: bool,
    force: bool,
    prompt: PromptChoice,
    local: Settings,
    server: str | None,
    key: str | None,
) -> dict[str, Any]:
    if server:
        return await _remote_analyze(server, key, conversation, branch, wait, force, prompt)
    from nexus.analysis.analyzer import MISSING_KEY_MESSAGE
    from nexus.analysis.jobs import request_analysis
    from nexus.analysis.loader import BranchNotFound, branch_requests
    from nexus.analysis.report import job_document
    from nexus.errors import ConfigError

    settings = local
    if not settings.gemini_api_key:
        raise ConfigError(MISSING_KEY_MESSAGE)
    store = await _open_local(settings)
    try:
        try:
            await branch_requests(store, conversation, branch)
        except BranchNotFound as exc:
            raise ConfigError(exc.message) from None
        job = await request_analysis(store, conversation, branch, force=force, prompt=prompt)
        if wait and job.state.value not in _TERMINAL:
            job = await _run_here(store, settings, job.id)
        return job_document(job)
    finally:
        await store.close()


async def _run_here(store: Any, settings: Any, job_id: str) -> Any:
    """Run the worker in this process until the job ends (it may run other due jobs first)."""
    from nexus.analysis.gemini import GeminiAnalyzer
    from nexus.analysis.jobs import AnalysisWorker
    from nexus.analysis.report import job_line

    analyzer = GeminiAnalyzer.from_settings(settings)
    worker = AnalysisWorker(store, analyzer, poll_s=1.0)
    started = time.monotonic()
    try:
        with err.status("analysing…") as status:
            while True:
                job = await store.get_analysis(job_id)
                if job.state.value in _TERMINAL:
                    return job
                status.update(f"{job_line(job)} · {time.monotonic() - started:.0f} s")
                if await worker.run_once() is None:
                    await asyncio.sleep(1.0)  # backing off, or another worker holds it
    finally:
        await analyzer.aclose()


async def _list(
    local: Settings, server: str | None, key: str | None, state: str | None, limit: int
) -> list[dict[str, Any]]:
    if server:
        async with _client(server, key) as client:
            return await client.list_analyses(state=state, limit=limit)
    from nexus.analysis.report import job_document
    from nexus.store.base import JobState

    store = await _open_local(local)
    try:
        jobs = await store.list_analyses(state=JobState(state) if state else None, limit=limit)
        return [job_document(job, with_result=False) for job in jobs]
    finally:
        await store.close()


async def _open_local(settings: Any) -> Any:
    from nexus.errors import ConfigError
    from nexus.store import open_store

    if not settings.is_postgres and not settings.sqlite_path.exists():
        raise ConfigError(f"no Nexus database at {settings.sqlite_path} (see --db)")
    return await open_store(settings)


# -- remote server ------------------------------------------------------------------------------


async def _remote_analyze(
    server: str,
    key: str | None,
    conversation: str,
    branch: str,
    wait: bool,
    force: bool,
    prompt: PromptChoice,
) -> dict[str, Any]:
    async with _client(server, key) as client:
        job = await client.start_analysis(
            conversation, branch, force=force, prompt=prompt.text, prompt_name=prompt.name
        )
        if not wait:
            return job
        started = time.monotonic()
        with err.status("waiting for the server's analysis worker…") as status:
            while job["state"] not in _TERMINAL:
                status.update(f"{_line(job)} · {time.monotonic() - started:.0f} s")
                await asyncio.sleep(1.0)
                job = await client.get_analysis(conversation, branch, job["prompt_version"])
        return job


def _client(server: str, key: str | None) -> NexusClient:
    from nexus.client import NexusClient

    return NexusClient(server, key, timeout=30.0)


# -- output --------------------------------------------------------------------------------------


def _line(job: dict[str, Any]) -> str:
    from nexus.analysis.report import job_line

    return job_line(job)


def _print_jobs(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for item in items:
            print_json(item)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("created", "conversation", "branch", "state", "attempts", "tokens", "error"):
        table.add_column(column)
    for item in items:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(item["created_at_ms"] / 1000))
        tokens = f"{item['input_tokens']}+{item['output_tokens']}"
        error = (item.get("error") or "")[:60]
        table.add_row(
            created,
            item["conversation_id"],
            item["branch"],
            item["state"],
            str(item["attempts"]),
            tokens,
            error,
        )
    out.print(table)
