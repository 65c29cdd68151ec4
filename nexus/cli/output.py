"""How every command ends and talks: exit codes, the stderr console, and the error wrapper.

Exit codes: 0 ok, 1 failure (a NexusError: one red line, traceback only with --debug), 2 usage error,
3 server unreachable. stdout carries data only; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console

from nexus.errors import NexusError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

T = TypeVar("T")
err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    # soft_wrap: one line however long; the terminal wraps it, rich inserts no newline
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T], *, debug: bool = False) -> T:
    """Run a command's coroutine (uvloop when installed), turning NexusError into one red line."""
    try:
        return _loop_runner(coro)
    except NexusError as exc:
        if debug:
            err.print_exception()
        code = EXIT_UNREACHABLE if type(exc).__name__ == "ServerUnreachable" else EXIT_FAILURE
        fail(exc.message, code)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _loop_runner(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        return asyncio.run(coro)
    return uvloop.run(coro)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for long work; yields the ``(done, total)`` callback to feed it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def print_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> None:
    """``value`` as one line of JSON on stdout (what every ``--json`` writes): no highlighting,
    no markup, no wrapping."""
    out.out(orjson.dumps(value, default=default).decode(), highlight=False)


def print_rebuild(counts: dict[str, int], seconds: float, summary: str, *, as_json: bool) -> None:
    """What a `nexus db rebuild-*` command did: its counts and seconds as one JSON object, or the
    ``summary`` sentence with the time."""
    if as_json:
        print_json({**counts, "seconds": round(seconds, 3)})
    else:
        out.out(f"{summary} in {seconds:.1f} s", highlight=False)


def setup_logging(level: str = "INFO") -> None:
    from nexus.logs import setup_logging as setup

    setup(level, err)


def is_terminal() -> bool:
    return sys.stderr.isatty()
