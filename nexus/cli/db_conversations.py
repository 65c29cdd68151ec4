"""`nexus db rebuild-conversations`: forget every conversation link and re-link every stored request
in canonical order, with a progress bar on stderr. Same result as live linking."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from nexus.cli import options
from nexus.cli.output import print_rebuild, progress_bar, run
from nexus.numbers import counted
from nexus.settings import Settings


def rebuild(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, max=10_000, help="Requests linked per transaction."),
    ] = 200,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Recompute every conversation, branch and sub-task from the stored requests.

    Safe while servers run on Postgres (linkers take turns); on SQLite stop `nexus serve` first.
    """
    requests, conversations, seconds = run(
        _rebuild(options.settings(db=db, data_dir=data_dir), batch_size), debug=debug
    )
    print_rebuild(
        {"requests": requests, "conversations": conversations},
        seconds,
        f"{counted(requests, 'request')} linked into {counted(conversations, 'conversation')}",
        as_json=as_json,
    )


async def _rebuild(settings: Settings, batch_size: int) -> tuple[int, int, float]:
    from nexus.conversations.rebuild import rebuild_conversations
    from nexus.records import RequestFilter
    from nexus.store import open_store

    store = await open_store(settings)
    started = time.monotonic()
    try:
        with progress_bar("linking") as on_progress:
            requests = await rebuild_conversations(
                store,  # type: ignore[arg-type]  # the concrete stores have every area's methods
                batch_size=batch_size,
                on_progress=on_progress,
            )
        conversations = await store.count_conversations(RequestFilter())  # type: ignore[attr-defined]
        return requests, conversations, time.monotonic() - started
    finally:
        await store.close()
