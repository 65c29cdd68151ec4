"""`nexus auth ...`: log in to a Claude Max account, manage client keys, inspect and refresh tokens.

Thin: parse options, build ``Settings``, call ``nexus.proxy.credential_files`` / ``oauth`` /
``credentials``, render. Secrets are written to credential files and never printed, except the
one a command exists to show (``generate-key``, ``add-client``), which goes to stdout once.

Longer than ~400 lines: one command group (``nexus auth``), each command a thin wrapper; the
logic lives in ``nexus.proxy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from nexus.cli import options
from nexus.cli.output import EXIT_FAILURE, EXIT_USAGE, err, fail, print_json

if TYPE_CHECKING:
    from nexus.proxy.credential_files import CredentialFile
    from nexus.proxy.oauth import Pkce, TokenSet
    from nexus.settings import Settings

app = typer.Typer(
    name="auth",
    help="Accounts and clients: OAuth login, client keys, token status and refresh.",
    no_args_is_help=True,
)

HostArg = Annotated[
    str,
    typer.Argument(
        help="The Host clients send to Nexus, e.g. localhost:3000 or nexus.example.com."
    ),
]


@app.command()
def login(
    host: HostArg,
    credentials_dir: options.CredentialsDir = None,
    account_id: Annotated[
        str | None,
        typer.Option("--account-id", help="accountId to record (default: kept, else the email)."),
    ] = None,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the authorize URL in a browser.")
    ] = True,
    as_json: options.Json = False,
) -> None:
    """Log in to a Claude account with OAuth (PKCE) and store its tokens for HOST."""
    from rich.markup import escape

    from nexus.errors import NexusError
    from nexus.proxy import credential_files as files
    from nexus.proxy import oauth

    settings = _settings(credentials_dir)
    key = _key(host)
    pkce = oauth.new_pkce()
    url = oauth.authorize_url(settings.oauth_authorize_url, pkce)
    typer.echo("Open this URL, approve access, then paste the code shown:", err=True)
    typer.echo(url, err=True)  # plain echo: a wrapped URL cannot be copied
    if browser:
        _open_browser(url)
    pasted = typer.prompt("Code", err=True)
    try:
        code = oauth.parse_pasted_code(pasted, pkce)
        tokens = asyncio.run(_exchange(settings, code, pkce))
        path = files.credential_path(settings.credentials_dir, key)
        _ensure_dir(settings.credentials_dir)
        with files.file_lock(path):
            files.store_tokens(path, tokens, account_id=account_id or _account_of(tokens))
        saved = files.read_credential_file(path, key)[0]
    except NexusError as exc:
        _fail(f"Login failed: {exc.message}")
    summary = {
        "host": key,
        "path": str(path),
        "accountId": saved.account_id,
        "expiresAt": saved.expires_at_ms,
        "scopes": list(saved.scopes),
        "hasClientKey": saved.client_api_key is not None,
    }
    if as_json:
        print_json(summary)
    err.print(f"[green]Logged in[/] {escape(saved.account_label)} → {escape(str(path))}")
    if saved.client_api_key is None:
        err.print(f"Clients need a key: run [bold]nexus auth add-client {key}[/]")


@app.command("generate-key")
def generate_key() -> None:
    """Print a new client key (cnp_live_ + 32 random bytes, URL-safe)."""
    from nexus.proxy.credential_files import generate_client_key

    typer.echo(generate_client_key())


@app.command("add-client")
def add_client(
    host: HostArg,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="The person this key is for (alice): records and usage show alice@HOST. "
            "Without it, sets the host's single shared key.",
        ),
    ] = None,
    credentials_dir: options.CredentialsDir = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the shared client key already set.")
    ] = False,
) -> None:
    """Issue a client key for HOST and print it once (stored hashed with --name)."""
    from nexus.proxy import client_keys
    from nexus.proxy import credential_files as files

    client_key = files.generate_client_key()
    key_id = files.client_key_id(client_key)
    with _host_file(host, credentials_dir) as (key, path):
        if name is not None:
            client_keys.check_name(name)
        with files.file_lock(path):
            current = files.read_credential_file(path, key)[0]
            if name is not None:
                now = int(time.time() * 1000)
                files.update_file(
                    path, lambda data: client_keys.add_client(data, name, client_key, key_id, now)
                )
            else:
                if current.client_api_key is not None and not replace:
                    _fail(f"{key} already has a client key; pass --replace to issue a new one.")
                files.store_client_key(path, client_key)
    typer.echo(client_key)
    who = f"{name}@{key}" if name else key
    err.print(
        f"Client key for {who} saved (id {key_id}). "
        "It is shown only now: send it as x-api-key or Authorization: Bearer."
    )


@app.command()
def clients(
    host: HostArg,
    credentials_dir: options.CredentialsDir = None,
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
) -> None:
    """List HOST's client keys: name, id, created, last used (never the key)."""
    from nexus.proxy import credential_files as files

    with _host_file(host, credentials_dir) as (key, path):
        file = files.read_credential_file(path, key)[0]
    last_used = _last_used(db, data_dir)
    rows: list[dict[str, Any]] = []
    if file.client_api_key:
        legacy = files.client_key_id(file.client_api_key)
        rows.append({"name": None, "id": legacy, "recordId": legacy, "createdAt": None,
                     "lastUsedAt": last_used.get(f"client:{legacy}")})  # fmt: skip
    for client in file.clients:
        record_id = client.record_id(key)
        rows.append({"name": client.name, "id": client.id, "recordId": record_id,
                     "createdAt": client.created_at_ms,
                     "lastUsedAt": last_used.get(f"client:{record_id}")})  # fmt: skip
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print(f"{key} has no client keys: run `nexus auth add-client {key} --name NAME`.")
        return
    from rich.console import Console, Group

    from nexus.cli.fit import fit_table, left_out_note

    console = Console()
    table, left_out = fit_table(lambda out: _clients_table(rows, out), CLIENTS_DROP_ORDER,
                                console.width)  # fmt: skip
    console.print(Group(table, f"[dim]{left_out_note(left_out)}[/]") if left_out else table)


# What a narrow terminal loses first: the name, the id records carry and the last use always stay
# whole (rich squeezed "records show", the one column a person looks for, into "alice@team.exa…").
CLIENTS_DROP_ORDER = ("created", "id")


def _clients_table(rows: list[dict[str, Any]], left_out: frozenset[str]) -> Any:
    from rich.table import Table

    columns = [name for name in ("name", "id", "records show", "created", "last used")
               if name not in left_out]  # fmt: skip
    table = Table(*columns, header_style="bold", box=None, pad_edge=False)
    for row in rows:
        cells = {
            "name": row["name"] or "(shared key)",
            "id": row["id"] or "-",
            "records show": row["recordId"],
            "created": _time_text(row["createdAt"]),
            "last used": _time_text(row["lastUsedAt"]),
        }
        table.add_row(*(cells[name] for name in columns))
    return table


@app.command()
def revoke(
    host: HostArg,
    name: Annotated[str, typer.Argument(help="The client's name, as `nexus auth clients` shows.")],
    credentials_dir: options.CredentialsDir = None,
) -> None:
    """Revoke NAME's client key for HOST: the proxy refuses it within a second."""
    from nexus.proxy import client_keys
    from nexus.proxy import credential_files as files

    with _host_file(host, credentials_dir) as (key, path), files.file_lock(path):
        files.read_credential_file(path, key)
        files.update_file(path, lambda data: client_keys.remove_client(data, name))
    err.print(f"Revoked the client key of {name}@{key}.")


@app.command()
def status(credentials_dir: options.CredentialsDir = None, as_json: options.Json = False) -> None:
    """Show every credential file: type, account, expiry, scopes, client key set (no secrets)."""
    from nexus.proxy import credential_files as files

    settings = _settings(credentials_dir)
    found = files.list_credential_files(settings.credentials_dir)
    rows = [_status_row(key, path) for key, path in found]
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print(f"No credential files in {settings.credentials_dir}: pass-through mode.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("host", "type", "account", "expires", "scopes", "client key", "mode")
    for row in rows:
        if row["error"]:
            table.add_row(
                row["host"], "[red]invalid[/]", str(row["error"]), "", "", "", row["mode"]
            )
            continue
        table.add_row(
            row["host"],
            str(row["type"]),
            str(row["accountId"] or "-"),
            _expiry_text(row["expiresAt"]),
            " ".join(row["scopes"]),
            "yes" if row["hasClientKey"] else "[yellow]no[/]",
            row["mode"] if not row["looseMode"] else f"[red]{row['mode']}[/]",
        )
    Console().print(table)


@app.command()
def refresh(
    host: HostArg,
    credentials_dir: options.CredentialsDir = None,
    force: Annotated[bool, typer.Option("--force", help="Refresh even if not yet due.")] = False,
    as_json: options.Json = False,
) -> None:
    """Refresh HOST's OAuth token now if it is due (or always with --force)."""
    from nexus.errors import NexusError

    settings = _settings(credentials_dir)
    key = _key(host)
    try:
        file = asyncio.run(_refresh(settings, key, force))
    except NexusError as exc:
        _fail(exc.message)
    if as_json:
        print_json({"host": key, "expiresAt": file.expires_at_ms})
    err.print(f"{file.account_label}: token valid until {_expiry_text(file.expires_at_ms)}")


# --- helpers of this command group ---------------------------------------------------------------


async def _exchange(settings: Settings, code: str, pkce: Pkce) -> TokenSet:
    import aiohttp

    from nexus.proxy import oauth

    async with aiohttp.ClientSession() as http:
        return await oauth.exchange_code(
            http, settings.oauth_token_url, code, pkce, now_ms=int(time.time() * 1000)
        )


async def _refresh(settings: Settings, key: str, force: bool) -> CredentialFile:
    from nexus.proxy.credentials import Credentials

    credentials = Credentials(settings.credentials_dir, token_url=settings.oauth_token_url)
    try:
        return await credentials.refresh(key, force=force)
    finally:
        await credentials.close()


def _status_row(key: str, path: Path) -> dict[str, Any]:
    from nexus.errors import CredentialError
    from nexus.proxy import credential_files as files

    info = path.stat()
    row: dict[str, Any] = {
        "host": key,
        "path": str(path),
        "mode": oct(info.st_mode & 0o777)[2:],
        "looseMode": bool(info.st_mode & 0o077),
        "error": None,
    }
    try:
        file = files.read_credential_file(path, key)[0]
    except (CredentialError, OSError) as exc:
        row["error"] = exc.message if isinstance(exc, CredentialError) else exc.strerror
        return row
    row.update(
        type=file.kind,
        accountId=file.account_id,
        expiresAt=file.expires_at_ms,
        expired=file.is_expired(int(time.time() * 1000)),
        scopes=list(file.scopes),
        hasClientKey=file.client_api_key is not None,
        clientKeyId=files.client_key_id(file.client_api_key) if file.client_api_key else None,
        hasRefreshToken=file.refresh_token is not None,
    )
    return row


@contextlib.contextmanager
def _host_file(host: str, credentials_dir: Path | None) -> Iterator[tuple[str, Path]]:
    """HOST's file key and credential file path; a missing file or a ``NexusError`` inside the
    block ends the command with one line."""
    from nexus.errors import NexusError
    from nexus.proxy import credential_files as files

    key = _key(host)
    path = files.credential_path(_settings(credentials_dir).credentials_dir, key)
    try:
        yield key, path
    except FileNotFoundError:
        # An API-key account has no login: the file is written by hand (credentials/README.md).
        _fail(
            f"No credential file {path}: run `nexus auth login {key}` (Claude Max), or write an "
            f'api_key file there (`{{"type": "api_key", "api_key": "sk-ant-…"}}`, mode 0600).'
        )
    except NexusError as exc:
        _fail(exc.message)


def _last_used(db: str | None, data_dir: Path | None) -> dict[str, int]:
    """Last use per client scope from the limit counters, or nothing when the database cannot
    be read (the command still lists the keys)."""
    from nexus.errors import NexusError

    async def read() -> dict[str, int]:
        from nexus.store import open_store

        store = await open_store(options.settings(database_url=db, data_dir=data_dir))
        try:
            return await store.clients_last_used()  # type: ignore[attr-defined,no-any-return]
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except NexusError as exc:
        err.print(f"[yellow]last use unknown:[/] {exc.message}")
        return {}


def _time_text(at_ms: object) -> str:
    if not isinstance(at_ms, int):
        return "-"
    return f"{datetime.fromtimestamp(at_ms / 1000, tz=UTC):%Y-%m-%d %H:%M}Z"


def _expiry_text(expires_at_ms: object) -> str:
    if not isinstance(expires_at_ms, int):
        return "-"
    when = f"{datetime.fromtimestamp(expires_at_ms / 1000, tz=UTC):%Y-%m-%d %H:%M}Z"
    left_s = int(expires_at_ms / 1000 - time.time())
    if left_s <= 0:
        return f"expired {when}"
    left = (
        f"{left_s // 86400}d" if left_s >= 86400 else f"{left_s // 3600}h{left_s % 3600 // 60:02d}m"
    )
    return f"{when} (in {left})"


def _account_of(tokens: TokenSet) -> str | None:
    return tokens.account_email or tokens.account_uuid


def _open_browser(url: str) -> bool:
    """Open a graphical browser if there is one; a console browser would take over the prompt."""
    import os
    import sys
    import webbrowser

    graphical = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not graphical:
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def _ensure_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _settings(credentials_dir: Path | None) -> Settings:
    return options.settings(credentials_dir=credentials_dir)


def _key(host: str) -> str:
    from nexus.errors import RequestRejected
    from nexus.proxy.credential_files import host_key

    try:
        return host_key(host)
    except RequestRejected as exc:
        _fail(f"{exc.message} Got {host!r}.", code=EXIT_USAGE)


def _fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    from rich.markup import escape

    fail(escape(message), code)  # messages hold host names such as [::1]:3000
