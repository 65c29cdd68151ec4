"""`nexus doctor`: checks the set-up a person would otherwise debug by hand, and says what to fix."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Annotated

import typer

from nexus.cli import options
from nexus.cli.output import out, print_json, run
from nexus.numbers import counted
from nexus.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
_MARK = {OK: "[green]✓[/]", WARN: "[yellow]![/]", FAIL: "[red]✗[/]"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    state: str
    detail: str


def doctor(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    credentials_dir: options.CredentialsDir = None,
    prompts_dir: options.PromptsDir = None,
    wire: Annotated[
        bool,
        typer.Option(
            "--wire",
            help="Instead: run the installed claude once through a private Nexus against a "
            "built-in fake API (no network, no key) and report its version, paths, betas and "
            "classes, every call Nexus could not classify or link, and every byte that changed "
            "on the way up. Exit 1 when anything is unrecognised.",
        ),
    ] = False,
    claude_bin: Annotated[
        str,
        options.option(
            "claude_bin",
            "--claude",
            "--claude-bin",
            help="The claude executable for --wire (a name on PATH or a path).",
        ),
    ] = "claude",
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds the --wire run of claude may take.", min=1)
    ] = 120.0,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Check the database, the spool, the running server, credentials and tools; exit 1 on failure."""
    if wire:
        from nexus.cli.wire_report import wire_check

        wire_check(claude_bin, timeout_s=timeout_s, as_json=as_json, debug=debug)
        return
    settings = options.settings(
        db=db, data_dir=data_dir, credentials_dir=credentials_dir, prompts_dir=prompts_dir
    )
    checks = run(_checks(settings), debug=debug)
    if as_json:
        for check in checks:
            line = {"name": check.name, "state": check.state, "detail": check.detail}
            print_json(line)
    else:
        for check in checks:
            out.print(f"{_MARK[check.state]} {check.name:<14} {check.detail}", highlight=False)
    if any(c.state == FAIL for c in checks):
        raise SystemExit(1)


async def _checks(settings: Settings) -> list[Check]:
    database, database_id = await _database(settings)
    return [
        database,
        _spool(settings, database_id),
        _spilled(settings),
        await _server(settings),
        _credentials(settings),
        _alerts(settings),
        _api_exposure(settings),
        _prompts(settings),
        _gemini(settings),
        _claude(),
    ]


async def _database(settings: Settings) -> tuple[Check, str | None]:
    """The database check, and the database's id (None when it cannot be opened)."""
    from nexus.errors import NexusError
    from nexus.server import _describe_db
    from nexus.store import open_store

    where = _describe_db(settings)
    try:
        store = await open_store(settings)
    except NexusError as exc:
        return Check("database", FAIL, f"{where}: {exc.message}"), None
    try:
        stats = await store.stats()
        database_id = await store.database_id()  # type: ignore[attr-defined]
    finally:
        await store.close()
    detail = f"{where} — {counted(stats.requests, 'request')}, schema up to date"
    if stats.dead_letters:
        return Check("database", WARN, f"{detail}; {counted(stats.dead_letters, 'dead letter')} could not "
                     "be stored (`nexus db dead-letters`, `nexus db retry-dead-letters`)"), database_id  # fmt: skip
    return Check("database", OK, detail), database_id


def _spool(settings: Settings, database_id: str | None) -> Check:
    from nexus.recorder.spool import SUFFIX, backlog, database_of, live_segments

    root = settings.data_dir / "spool"
    files, size = backlog(root)
    live_files, live_bytes = live_segments(root)
    waiting, waiting_bytes = files - live_files, size - live_bytes
    live = (
        f"live segment of the running server: {counted(live_files, 'file')} ({live_bytes:,} bytes), "
        "stored as it grows"
        if live_files
        else ""
    )
    if waiting == 0:
        return Check(
            "spool", OK, f"{live}; no backlog" if live else "empty: every record is stored"
        )
    folders = {p.parent for p in root.rglob("*" + SUFFIX)}
    foreign = sum(1 for folder in folders if database_of(folder) != database_id)
    elsewhere = (
        f"; {foreign} of its folders belong to another database (or an older Nexus): only a "
        "`nexus serve` on that database stores them"
        if foreign and database_id is not None
        else ""
    )
    return Check(
        "spool",
        WARN,
        f"backlog: {counted(waiting, 'file')} ({waiting_bytes:,} bytes) wait to be stored; `nexus serve` "
        "stores them" + (f" ({live})" if live else "") + elsewhere,
    )


def _spilled(settings: Settings) -> Check:
    from nexus.recorder.dead_letters import SPILL_FOLDER

    folder = settings.data_dir / SPILL_FOLDER
    count = len(list(folder.glob("*.nxs"))) if folder.is_dir() else 0
    if not count:
        return Check("spilled", OK, "no record waits outside the database")
    return Check("spilled", WARN, f"{counted(count, 'file')} in {folder}: records even the dead-letter "
                 "table refused; `nexus db retry-dead-letters` stores them")  # fmt: skip


async def _server(settings: Settings) -> Check:
    import aiohttp

    url = settings.proxy_url + "/health"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async with session.get(url) as response:
                if response.status == 200:
                    return Check("server", OK, f"nexus serve answers at {settings.proxy_url}")
                return Check("server", WARN, f"{url} answered {response.status}: is it Nexus?")
    except (aiohttp.ClientError, TimeoutError):
        return Check("server", WARN, f"nothing answers at {settings.proxy_url}: run `nexus serve`")


def _credentials(settings: Settings) -> Check:
    from nexus.proxy.credential_files import is_loose, list_credential_files

    files = list_credential_files(settings.credentials_dir)
    if not files:
        return Check(
            "credentials", OK, "none: pass-through mode (each client's own key goes upstream)"
        )
    loose = [str(path) for _, path in files if is_loose(path)]
    if loose:
        return Check("credentials", FAIL, f"others may read {', '.join(loose)}: chmod 600 them")
    hosts = ", ".join(key for key, _ in files)
    return Check("credentials", OK, f"team mode for {hosts} (`nexus auth status` for expiry)")


def _alerts(settings: Settings) -> Check:
    from nexus.alerts.config import is_loose, load_alert_config
    from nexus.errors import ConfigError

    path = settings.alerts_config_path
    try:
        config = load_alert_config(path, required=settings.alerts_config is not None)
    except ConfigError as exc:
        return Check("alerts", FAIL, f"{exc.message}: nexus serve will not start (docs/alerts.md)")
    if config.path is None:
        return Check("alerts", OK, f"none: no {path} (docs/alerts.md)")
    if is_loose(path):
        return Check("alerts", WARN, f"others may read {path} (webhook secrets): chmod 600 it")
    names = ", ".join(d.name for d in config.all_destinations()) or "no destination"
    return Check("alerts", OK, f"{names} (`nexus alerts test` sends one of each kind)")


def _api_exposure(settings: Settings) -> Check:
    if settings.api_key:
        return Check("read API", OK, "DASHBOARD_API_KEY set: remote clients need it")
    if settings.host in ("127.0.0.1", "localhost", "::1"):
        return Check("read API", OK, "loopback only (set DASHBOARD_API_KEY to share it)")
    return Check(
        "read API",
        WARN,
        f"bound to {settings.host} without DASHBOARD_API_KEY: remote reads refused",
    )


def _prompts(settings: Settings) -> Check:
    from nexus.prompts.config import library_for

    library = library_for(settings)
    library.refresh()
    where = ", ".join(str(f) for f in library.folders)
    if library.errors:
        broken = "; ".join(library.errors.values())
        return Check(
            "prompts",
            WARN,
            f"{counted(len(library.errors), 'broken file')} (others serve): {broken}",
        )
    if not library.prompts:
        return Check("prompts", OK, f"none in {where}: /mcp serves tools only (docs/mcp.md)")
    return Check(
        "prompts", OK, f"{counted(len(library.prompts), 'prompt')} from {where}, served at /mcp"
    )


def _gemini(settings: Settings) -> Check:
    if settings.gemini_api_key:
        return Check("analysis", OK, f"Gemini key set, model {settings.gemini_model}")
    return Check("analysis", WARN, "GEMINI_API_KEY unset: conversation analysis is off")


def _claude() -> Check:
    path = shutil.which("claude")
    if path:
        return Check("claude", OK, f"{path} (`nexus claude` runs it through Nexus)")
    return Check("claude", WARN, "not on PATH: npm install -g @anthropic-ai/claude-code")
