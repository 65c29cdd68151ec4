"""`nexus export`: conversations and requests out of Nexus as jsonl, json, markdown, html or har.

Thin: parse flags → build the filter and the source (the local store from ``--db``, or the read
API with ``--server``) → ``nexus.export.run_export`` → exit code. stdout carries the export only;
the progress bar (on a terminal) and errors go to stderr. ``-o FILE`` writes ``FILE.partial`` and
renames it when complete, so a failed export never leaves a truncated file that looks whole.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from nexus import filters
from nexus.cli.options import ApiKey, DataDir, Db, Debug, Server
from nexus.cli.options import settings as local_settings
from nexus.numbers import counted

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from nexus.export import ExportOptions, ExportSource, Progress
    from nexus.settings import Settings

FORMATS = ("jsonl", "json", "markdown", "html", "har")


def parse_time(value: str, *, now_ms: int | None = None) -> int:
    """Epoch ms from ``2025-06-01``, ``2025-06-01T10:00[:00][Z|+02:00]`` (no zone: local time),
    an age such as ``30m``, ``2h``, ``7d``, ``1w`` (that long ago), or epoch milliseconds."""
    try:
        return filters.parse_time(value, at_ms=now_ms, naive="local")
    except filters.FilterError:
        raise ValueError(
            f"--since/--until {value!r}: use a date (2025-06-01), a time (2025-06-01T10:00Z), "
            "an age (2h, 7d) or epoch milliseconds"
        ) from None


def export(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="jsonl (every matching request, full records) · json (one conversation as a "
            "tree) · markdown / html (one conversation as a transcript) · har (HTTP exchanges).",
        ),
    ] = "jsonl",
    conversation: Annotated[
        str | None, typer.Option("--conversation", "-c", help="Conversation id.")
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Only this branch (with --conversation).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="From this time: 2025-06-01, 2025-06-01T10:00Z, 2h, 7d, or epoch ms."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Before this time (same forms as --since).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Only requests to this Host.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this account id.")] = None,
    traffic_class: Annotated[
        str | None,
        typer.Option("--class", help="Only this traffic class: turn, subagent, compaction, …"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model substring, e.g. opus.")
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write, or - for stdout.")
    ] = "-",
    db: Db = None,
    data_dir: DataDir = None,
    server: Server = None,
    key: ApiKey = None,
    debug: Debug = False,
) -> None:
    """Export requests or one conversation. Default: every request as jsonl on stdout."""
    from nexus.cli.output import EXIT_FAILURE, EXIT_USAGE, err, fail, run
    from nexus.export import ExportFormat, ExportOptions, ExportUsageError, check_options
    from nexus.records import RequestFilter, TrafficClass

    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}", EXIT_USAGE)
    if traffic_class is not None and traffic_class not in {c.value for c in TrafficClass}:
        fail(f"unknown class {traffic_class!r}: use one of {', '.join(TrafficClass)}", EXIT_USAGE)
    try:
        since_ms = None if since is None else parse_time(since)
        until_ms = None if until is None else parse_time(until)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    flt = RequestFilter(
        since_ms=since_ms,
        until_ms=until_ms,
        host=host,
        account_id=account,
        model=model,
        traffic_class=traffic_class,
    )
    options = ExportOptions(ExportFormat(fmt), conversation, branch, flt)
    try:
        check_options(options)  # before opening anything: a usage error needs no database
    except ExportUsageError as exc:
        fail(exc.message, EXIT_USAGE)
    try:
        local = local_settings(db=db, data_dir=data_dir)
        count = run(_run(options, output, local, server, key, err), debug=debug)
    except OSError as exc:
        if debug:
            err.print_exception()
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_FAILURE)
    if output != "-":
        err.print(
            f"{counted(count, 'request')} exported to {output}", highlight=False, markup=False
        )


async def _run(
    options: ExportOptions,
    output: str,
    local: Settings,
    server: str | None,
    key: str | None,
    err: Console,
) -> int:
    from nexus.export import run_export

    async with _open_source(local, server, key) as source:
        # Data on a terminal's stdout would be torn by a bar on the same screen.
        show_bar = err.is_terminal and (output != "-" or not sys.stdout.isatty())
        with _progress(err, show_bar) as progress, _open_output(output) as out:
            return await run_export(source, options, out.write, progress)


@contextlib.contextmanager
def _open_output(output: str) -> Iterator[BinaryIO]:
    """stdout's byte stream, or ``FILE.partial`` renamed to ``FILE`` once complete."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = Path(output + ".partial")
    with partial.open("wb") as file:
        try:
            yield file
        except BaseException:
            file.close()
            partial.unlink(missing_ok=True)
            raise
    partial.replace(output)


@contextlib.asynccontextmanager
async def _open_source(
    settings: Settings, server: str | None, key: str | None
) -> AsyncIterator[ExportSource]:
    """The read-API client for ``--server``, else the local store; closed on the way out."""
    if server:
        from nexus.client import NexusClient

        client = NexusClient(server, api_key=key)
        try:
            yield client
        finally:
            await client.aclose()
        return
    from nexus.errors import NexusError
    from nexus.store import open_store

    if not settings.is_postgres and not settings.sqlite_path.exists():
        raise NexusError(f"no Nexus database at {settings.sqlite_path} (see --db)")
    store = await open_store(settings)
    try:
        yield store  # type: ignore[misc]  # the composed store: its conversation trees too
    finally:
        await store.close()


class _BarProgress:
    """Reports ``run_export`` progress to a rich bar."""

    def __init__(self, bar: RichProgress) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def start(self, total: int | None) -> None:
        self.task = self.bar.add_task("exporting", total=total)

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=done)


@contextlib.contextmanager
def _progress(err: Console, show: bool) -> Iterator[Progress]:
    """A rich progress bar on stderr when ``show``; nothing otherwise."""
    from nexus.export import NoProgress

    if not show:
        yield NoProgress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with RichProgress(*columns, console=err, transient=True) as bar:
        yield _BarProgress(bar)
