"""`nexus db rebuild-cache-ledger`: compute the cache ledger for every stored request (records
stored before the ledger existed, or after a price-book change), with a progress bar on stderr.
Same rows as the recorder writes live."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nexus.cli import options
from nexus.cli.output import print_rebuild, progress_bar, run
from nexus.numbers import counted
from nexus.settings import Settings


def rebuild(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    price_book: Annotated[
        Optional[Path],  # noqa: UP007, UP045 - typer needs Optional on 3.11
        typer.Option(
            "--price-book",
            envvar="NEXUS_PRICE_BOOK",
            help="A JSON price book overlaying the shipped one (format of nexus/usage/prices.json).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, max=10_000, help="Requests per transaction."),
    ] = 200,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Recompute the cache ledger (prompt-cache breaks, causes, cost) from the stored requests.

    Run it after linking (`nexus db rebuild-conversations`) when both are needed: the ledger
    follows each request's conversation branch.
    """
    settings = options.settings(db=db, data_dir=data_dir, price_book_path=price_book)
    requests, breaks, seconds = run(_rebuild(settings, batch_size), debug=debug)
    print_rebuild(
        {"requests": requests, "breaks": breaks},
        seconds,
        f"{counted(requests, 'request')} checked, {counted(breaks, 'cache break')} found",
        as_json=as_json,
    )


async def _rebuild(settings: Settings, batch_size: int) -> tuple[int, int, float]:
    from nexus.cache.ledger import CacheLedger
    from nexus.records import RequestFilter
    from nexus.store import open_store
    from nexus.usage.prices import load_price_book

    book = load_price_book(settings.price_book_path)
    store = await open_store(settings)
    started = time.monotonic()
    try:
        with progress_bar("cache ledger") as on_progress:
            ledger = CacheLedger(store, book)  # type: ignore[arg-type]  # every area's methods
            requests = await ledger.rebuild(batch_size=batch_size, on_progress=on_progress)
        totals = await store.cache_break_totals(RequestFilter(), "cause")  # type: ignore[attr-defined]
        return requests, sum(t.breaks for t in totals), time.monotonic() - started
    finally:
        await store.close()
