"""`nexus db …`: migrate, stats, prune, backup (rebuild-conversations and rebuild-cache-ledger from
their own modules)."""

from __future__ import annotations

import shlex
import time
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import typer

from nexus import filters
from nexus.cli import db_cache, db_conversations, db_dead_letters, options
from nexus.cli.output import err, fail, out, print_json, run
from nexus.numbers import counted
from nexus.settings import Settings

app = typer.Typer(
    help="Database maintenance: migrate, stats, prune, backup, dead letters.", no_args_is_help=True
)
app.command("rebuild-conversations")(db_conversations.rebuild)
app.command("rebuild-cache-ledger")(db_cache.rebuild)
app.command("dead-letters")(db_dead_letters.list_letters)
app.command("retry-dead-letters")(db_dead_letters.retry)


@app.command()
def migrate(
    db: options.Db = None, data_dir: options.DataDir = None, debug: options.Debug = False
) -> None:
    """Apply pending schema migrations (nexus serve also does this at start)."""
    names = run(_migrate(options.settings(db=db, data_dir=data_dir)), debug=debug)
    err.print(f"schema up to date ({len(names)} migrations applied in all)")


async def _migrate(settings: Settings) -> list[str]:
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        return await store.applied_migrations()  # type: ignore[attr-defined, no-any-return]
    finally:
        await store.close()


@app.command()
def stats(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Rows, bytes received vs bytes of unique content, size on disk, spool backlog (what waits to
    be stored; the segment a running server appends to is its live segment, not a backlog)."""
    settings = options.settings(db=db, data_dir=data_dir)
    data = run(_stats(settings), debug=debug)
    if as_json:
        print_json(data)
        return
    ratio = (
        data["bytes_received"] / data["unique_content_bytes"] if data["unique_content_bytes"] else 0
    )
    out.print(f"database        {data['database']}")
    out.print(f"requests        {data['requests']:,}")
    out.print(f"bytes received  {_size(data['bytes_received'])}")
    out.print(
        f"unique content  {_size(data['unique_content_bytes'])}  ({data['blobs']:,} blobs; "
        f"received/unique = {ratio:.1f}×)"
    )
    out.print(f"on disk         {_size(data['database_bytes'])}")
    out.print(
        f"spool backlog   {counted(data['spool_files'], 'file')}, {_size(data['spool_bytes'])}"
    )
    if data["spool_live_files"]:
        count = data["spool_live_files"]
        live = f"{counted(count, 'file')}, {_size(data['spool_live_bytes'])}"
        out.print(f"live segment    {live}  (a running server appends to it; stored as it grows)")
    out.print(f"dead letters    {data['dead_letters']:,}" + (
        "  (`nexus db dead-letters` lists them)" if data["dead_letters"] else ""))  # fmt: skip


async def _stats(settings: Settings) -> dict[str, Any]:
    from nexus.recorder.spool import backlog, live_segments
    from nexus.server import _describe_db
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        s = await store.stats()
    finally:
        await store.close()
    files, size = backlog(settings.data_dir / "spool")
    live_files, live_bytes = live_segments(settings.data_dir / "spool")
    return {
        "database": _describe_db(settings),
        "requests": s.requests,
        "bytes_received": s.bytes_received,
        "unique_content_bytes": s.unique_content_bytes,
        "database_bytes": s.database_bytes,
        "blobs": s.blobs,
        "oldest_ms": s.oldest_ms,
        "newest_ms": s.newest_ms,
        "spool_files": files - live_files,  # the backlog: what waits to be stored
        "spool_bytes": size - live_bytes,
        "spool_live_files": live_files,
        "spool_live_bytes": live_bytes,
        "dead_letters": s.dead_letters,
    }


@app.command()
def prune(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="Age like 30d, 12h, 2w: records started before it go."),
    ],
    db: options.Db = None,
    data_dir: options.DataDir = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    debug: options.Debug = False,
) -> None:
    """Delete records older than an age, with content nothing else uses, and give the space back."""
    try:
        cutoff_ms = int(time.time() * 1000) - filters.parse_age(older_than)
    except filters.FilterError:
        fail(f"--older-than takes a number and a unit (s, m, h, d, w), like 30d: {older_than!r}", 2)
    if not yes and not typer.confirm(f"Delete every record older than {older_than}?", err=True):
        raise typer.Exit(1)
    deleted, before, after = run(
        _prune(options.settings(db=db, data_dir=data_dir), cutoff_ms), debug=debug
    )
    err.print(f"deleted {counted(deleted, 'request')}; database {_size(before)} → {_size(after)}")


async def _prune(settings: Settings, cutoff_ms: int) -> tuple[int, int, int]:
    from nexus.conversations.worker import ConversationLinker
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        before = (await store.stats()).database_bytes
        deleted = await store.prune(cutoff_ms)
        # The conversation index keeps a node per request: drop those of the deleted requests and
        # recount their conversations; a second (empty) prune then gives their pages back too.
        if deleted and await ConversationLinker(store).forget_pruned():  # type: ignore[arg-type]
            await store.prune(cutoff_ms)
        after = (await store.stats()).database_bytes
        return deleted, before, after
    finally:
        await store.close()


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (SQLite).")],
    db: options.Db = None,
    data_dir: options.DataDir = None,
    debug: options.Debug = False,
) -> None:
    """Copy the database while Nexus runs (SQLite online backup); for Postgres, print pg_dump."""
    settings = options.settings(db=db, data_dir=data_dir)
    if settings.is_postgres:
        url, had_password = _without_password(settings.database_url)
        out.out(
            f"pg_dump --format=custom --file {shlex.quote(str(file))} {shlex.quote(url)}",
            highlight=False,
        )
        err.print("Postgres: run the command above (pg_dump makes a consistent online copy).")
        if had_password:  # stdout may land in a shell history or a log: no secret on it
            err.print("The password is left out: give it in PGPASSWORD or ~/.pgpass.")
        return
    if file.exists():
        fail(f"{file} exists; choose a new file name")
    run(_backup(settings, file), debug=debug)
    err.print(f"backed up to {file} ({_size(file.stat().st_size)})")


async def _backup(settings: Settings, file: Path) -> None:
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        await store.backup(file)
    finally:
        await store.close()


def _without_password(url: str) -> tuple[str, bool]:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url, False
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{hostport}")), True


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)
