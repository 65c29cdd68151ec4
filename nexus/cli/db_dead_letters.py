"""`nexus db dead-letters` and `nexus db retry-dead-letters`: the records the recorder set aside
because they could not be derived or stored (``nexus.recorder.dead_letters``), listed and retried."""

from __future__ import annotations

import datetime
from typing import Any

from nexus.cli import options
from nexus.cli.output import err, out, print_json, run
from nexus.numbers import counted
from nexus.settings import Settings


def list_letters(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """List the records set aside as dead letters, with the error that stopped each."""
    letters = run(_list(options.settings(db=db, data_dir=data_dir)), debug=debug)
    if as_json:
        for letter in letters:
            print_json(letter)
        return
    if not letters:
        err.print("no dead letters: every record the recorder read is stored")
        return
    for letter in letters:
        at = datetime.datetime.fromtimestamp(letter["failed_at_ms"] / 1000, datetime.UTC)
        out.print(f"{letter['id']}  {at:%Y-%m-%d %H:%M:%S}Z  {letter['stage']:<6} "
                  f"{letter['attempts']}×  {letter['frame_bytes']:,} B  {letter['error']}",
                  highlight=False, markup=False)  # fmt: skip
    err.print(
        f"{counted(len(letters), 'dead letter')}; `nexus db retry-dead-letters` tries them again"
    )


async def _list(settings: Settings) -> list[dict[str, Any]]:
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        letters = await store.list_dead_letters()  # type: ignore[attr-defined]
    finally:
        await store.close()
    return [
        {
            "id": x.id,
            "failed_at_ms": x.failed_at_ms,
            "attempts": x.attempts,
            "stage": x.stage,
            "error": x.error,
            "frame_bytes": x.frame_bytes,
        }  # fmt: skip
        for x in letters
    ]


def retry(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Derive and store every dead letter again (after an upgrade or a fix); those stored leave
    the list, the others stay with their new error."""
    stored, failed = run(_retry(options.settings(db=db, data_dir=data_dir)), debug=debug)
    if as_json:
        print_json({"stored": stored, "failed": failed})
    else:
        out.out(f"{stored} stored, {failed} still dead letters", highlight=False)


async def _retry(settings: Settings) -> tuple[int, int]:
    from nexus.conversations.worker import ConversationLinker
    from nexus.recorder.dead_letters import SPILL_FOLDER, retry_dead_letters
    from nexus.store import open_store
    from nexus.usage.cost import make_cost_function

    store = await open_store(settings)
    try:
        linker = ConversationLinker(store)  # type: ignore[arg-type]
        result = await retry_dead_letters(
            store,
            make_cost_function(settings.price_book_path),
            on_stored=linker.link_batch,
            spill_dir=settings.data_dir / SPILL_FOLDER,
        )
    finally:
        await store.close()
    return result.stored, result.failed
