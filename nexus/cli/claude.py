"""`nexus claude [ARGS...]`: run Claude Code through the local Nexus, starting Nexus when needed.

Sets ``ANTHROPIC_BASE_URL`` to the local proxy and, when that host is in team mode (a credential
file exists for it), ``ANTHROPIC_API_KEY`` to the file's client key. If ``GET /health`` does not
answer, ``nexus serve`` is started in the background first (own session, output appended to
``<data dir>/serve.log``) and left running for the next session; ``nexus claude --stop`` (or
``nexus serve --stop``) stops it. The ``claude`` process inherits the terminal; its exit code
becomes this command's.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexus.cli import options, pid_file
from nexus.cli.output import EXIT_FAILURE, EXIT_UNREACHABLE, err, fail

if TYPE_CHECKING:
    from nexus.settings import Settings

CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
START_TIMEOUT_S = 20.0
HEALTH_TIMEOUT_S = 1.0


def claude(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Arguments for claude (use -- before ones Nexus would take itself)."),
    ] = None,
    credentials_dir: options.CredentialsDir = None,
    data_dir: options.DataDir = None,
    proxy_port: options.ProxyPort = None,
    claude_bin: Annotated[str, options.option("claude_bin")] = "claude",
    start: Annotated[
        bool, typer.Option("--start/--no-start", help="Start `nexus serve` if none answers.")
    ] = True,
    stop: Annotated[
        bool,
        typer.Option(
            "--stop",
            help="Instead: stop the nexus serve on --proxy-port that an earlier `nexus claude` "
            "started in the background (its log: <data dir>/serve.log), then exit.",
        ),
    ] = False,
) -> None:
    """Run Claude Code with ANTHROPIC_BASE_URL at the local Nexus (and the client key in team mode).

    Examples: nexus claude   ·   nexus claude -p "explain this repo"   ·   nexus claude -- --help
    """
    settings = options.settings(
        credentials_dir=credentials_dir, data_dir=data_dir, proxy_port=proxy_port
    )
    if stop:
        from nexus.cli.pid_file import stop_command

        err.print(
            stop_command(settings.data_dir, settings.proxy_port), highlight=False, soft_wrap=True
        )
        return
    executable = shutil.which(claude_bin)
    if executable is None:
        fail(
            f"{claude_bin} not found on PATH; install it: npm install -g @anthropic-ai/claude-code",
            EXIT_FAILURE,
        )
    base_url, client_key = _route(settings)
    if not _healthy(settings.proxy_url):
        if not start:
            fail(f"No Nexus answers at {settings.proxy_url}; run `nexus serve`.", EXIT_UNREACHABLE)
        _start_server(settings)
    env = claude_env(os.environ, base_url=base_url, client_key=client_key)
    raise typer.Exit(_run([executable, *(args or [])], env))


def register(parent: typer.Typer) -> None:
    """Add ``claude`` to the root app (it needs to accept claude's own options unparsed)."""
    parent.command("claude", context_settings=CONTEXT_SETTINGS)(claude)


def claude_env(
    environ: Mapping[str, str], *, base_url: str, client_key: str | None
) -> dict[str, str]:
    """The environment claude runs with: the caller's, pointed at Nexus."""
    env = dict(environ)
    env["ANTHROPIC_BASE_URL"] = base_url
    if client_key is not None:
        env["ANTHROPIC_API_KEY"] = client_key
    return env


def _route(settings: Settings) -> tuple[str, str | None]:
    """Base URL and client key: the first of the proxy URL / localhost:PORT with a credential file.

    Claude Code sends the URL's host as Host, and that picks the credential file, so the base URL
    must name the host the file is for.
    """
    from nexus.errors import CredentialError
    from nexus.proxy import credential_files as files

    for url in files.local_proxy_urls(settings.proxy_url):
        key = files.host_key(url.removeprefix("http://"))
        path = files.credential_path(settings.credentials_dir, key)
        try:
            file = files.read_credential_file(path, key)[0]
        except FileNotFoundError:
            continue
        except CredentialError as exc:
            fail(exc.message)
        if file.client_api_key is None:
            fail(f"{key} is in team mode but has no client key: run `nexus auth add-client {key}`.")
        return url, file.client_api_key
    return settings.proxy_url, None


def _healthy(proxy_url: str) -> bool:
    import asyncio

    return asyncio.run(_probe(proxy_url + "/health"))


async def _probe(url: str) -> bool:
    import aiohttp

    try:
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
            return response.status == 200
    except (TimeoutError, aiohttp.ClientError):
        return False


def serve_argv() -> list[str]:
    return [sys.executable, "-m", "nexus", "serve"]


def _start_server(settings: Settings) -> int:
    """Start ``nexus serve`` detached from this terminal; wait until it answers. Returns its pid."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = pid_file.log_path(settings.data_dir)
    env = dict(os.environ)
    env.update(
        NEXUS_PROXY_PORT=str(settings.proxy_port),
        NEXUS_HOST=settings.host,
        NEXUS_CREDENTIALS_DIR=str(Path(settings.credentials_dir).resolve()),
        NEXUS_DATA_DIR=str(settings.data_dir.resolve()),
    )
    argv = serve_argv()
    err.print(
        f"Starting nexus serve in the background (log: {log_path}; "
        "stop it with `nexus claude --stop`)",
        highlight=False,
        soft_wrap=True,
    )
    # posix_spawn, not Popen: the server outlives this command and nobody will wait() for it
    pid = os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _healthy(settings.proxy_url):
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            code = os.waitstatus_to_exitcode(status)
            fail(f"nexus serve exited with {code} before answering; see {log_path}")
        if time.monotonic() > deadline:
            fail(f"nexus serve did not answer within {START_TIMEOUT_S:.0f}s; see {log_path}")
        time.sleep(0.1)  # a starting server sends no signal to wait on
    return pid


def _run(argv: list[str], env: dict[str, str]) -> int:
    """Run claude in the foreground; Ctrl-C belongs to it, so this process only waits."""
    process = subprocess.Popen(argv, env=env)
    in_main = threading.current_thread() is threading.main_thread()
    # a no-op handler (not SIG_IGN, which the child would inherit) keeps us alive while claude
    # decides what Ctrl-C means
    previous = signal.signal(signal.SIGINT, lambda *_: None) if in_main else None
    try:
        code = process.wait()
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code
