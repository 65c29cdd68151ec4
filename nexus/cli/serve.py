"""`nexus serve`: run the proxy and the API in one process until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import urllib.parse
from typing import Annotated

import typer

from nexus.cli import options
from nexus.cli.output import EXIT_USAGE, err, fail, run, setup_logging
from nexus.numbers import counted
from nexus.settings import DEFAULT_UPSTREAM_URL, Settings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def serve(
    db: options.Db = None,
    proxy_port: options.ProxyPort = None,
    api_port: Annotated[int | None, options.option("api_port")] = None,  # noqa: UP007
    host: Annotated[str | None, options.option("host")] = None,  # noqa: UP007
    upstream: Annotated[str | None, options.option("upstream_url")] = None,  # noqa: UP007
    credentials_dir: options.CredentialsDir = None,
    api_key: Annotated[str | None, options.option("api_key")] = None,  # noqa: UP007
    data_dir: options.DataDir = None,
    max_body_bytes: Annotated[int | None, options.option("max_body_bytes")] = None,  # noqa: UP007
    prompts_dir: options.PromptsDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_branch: options.PromptsGitBranch = None,
    prompts_git_path: options.PromptsGitPath = None,
    prompts_git_interval: options.PromptsGitInterval = None,
    alerts_config: options.AlertsConfig = None,
    log_level: Annotated[str, options.option("log_level")] = "INFO",
    stop: Annotated[
        bool,
        typer.Option(
            "--stop",
            help="Instead: stop the nexus serve running on --proxy-port with this --data-dir "
            "(found by its pid file, serve.<port>.pid in the data folder), then exit.",
        ),
    ] = False,
    debug: options.Debug = False,
) -> None:
    """Run the proxy (default :3000) and the read API (default :3001), recording every call.

    Point Claude Code at it with ANTHROPIC_BASE_URL=http://127.0.0.1:3000 claude
    """
    settings = options.settings(
        db=db,
        proxy_port=proxy_port,
        api_port=api_port,
        host=host,
        upstream_url=upstream,
        credentials_dir=credentials_dir,
        api_key=api_key,
        data_dir=data_dir,
        max_body_bytes=max_body_bytes,
        prompts_dir=prompts_dir,
        prompts_git_url=prompts_git,
        prompts_git_branch=prompts_git_branch,
        prompts_git_path=prompts_git_path,
        prompts_git_interval_s=prompts_git_interval,
        alerts_config=alerts_config,
    )
    if stop:
        from nexus.cli.pid_file import stop_command

        err.print(
            stop_command(settings.data_dir, settings.proxy_port), highlight=False, soft_wrap=True
        )
        return
    check_settings(settings, log_level)
    setup_logging(log_level)
    run(_serve(settings), debug=debug)


def check_settings(settings: Settings, log_level: str) -> None:
    """Refuse, in one line that names the setting, what would otherwise fail later or never."""
    if log_level.upper() not in LOG_LEVELS:
        fail(
            f"--log-level {log_level!r} is not a level: use one of {', '.join(LOG_LEVELS)}",
            EXIT_USAGE,
        )
    for setting, port in (
        ("--proxy-port / NEXUS_PROXY_PORT", settings.proxy_port),
        ("--api-port / NEXUS_API_PORT", settings.api_port),
    ):
        if not 0 <= port <= 65535:
            fail(f"{setting} {port} is not a port: use 1-65535 (0 picks a free one)", EXIT_USAGE)
    url = urllib.parse.urlsplit(settings.upstream_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        fail(
            f"--upstream / NEXUS_UPSTREAM_URL {settings.upstream_url!r} is not an http(s) URL: "
            f"give one like {DEFAULT_UPSTREAM_URL}",
            EXIT_USAGE,
        )
    if settings.max_body_bytes <= 0:
        fail("--max-body-bytes / NEXUS_MAX_BODY_BYTES must be positive", EXIT_USAGE)


def use_it_lines(proxy_url: str, team_hosts: list[str]) -> list[str]:
    """The banner's "Use it" lines. In team mode the base URL must name a host that has a
    credential file (the Host header picks it): any other name of this proxy passes through,
    without client keys or limits."""
    from nexus.proxy.credential_files import team_url

    if not team_hosts:
        return [f"  Use it:  [bold cyan]ANTHROPIC_BASE_URL={proxy_url} claude[/]"]
    port = proxy_url.rsplit(":", 1)[1]
    url = team_url(proxy_url, team_hosts)
    hosts = ", ".join(team_hosts)
    if url is not None:
        lines = [f"  Use it:  [bold cyan]ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=<client key> "
                 "claude[/]  (or: nexus claude)"]  # fmt: skip
    else:
        host = team_hosts[0]
        base = f"http://{host}" if ":" in host else f"http://{host}:{port}"
        lines = [f"  Use it:  [bold cyan]ANTHROPIC_BASE_URL={base} ANTHROPIC_API_KEY=<client key> "
                 f"claude[/]  ({host} must reach this machine)"]  # fmt: skip
    lines.append(f"  team hosts    {hosts}: the base URL's host picks the credential file")
    if url != proxy_url:
        lines.append(f"  {proxy_url} has no credential file: it passes the client's own key "
                     "through, without client keys or limits")  # fmt: skip
    return lines


async def _serve(settings: Settings) -> None:
    from nexus.cli.pid_file import remove_pid_file, stop_hint, write_pid_file
    from nexus.server import Server
    from nexus.settings import data_dir

    server = Server(settings)
    await server.start()
    # What is imported and built so far lives as long as the process: out of the cyclic collector's
    # way. Measured under the proxy benchmark (its gc-log variant): the one full collection while
    # serving paused every call for 84 ms; frozen, 4.4 ms.
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_stop)
    ep = server.endpoints
    assert ep is not None
    port = int(ep.proxy_url.rsplit(":", 1)[1])
    pid_file = write_pid_file(settings.data_dir, port)
    err.print(f"[bold]Nexus[/] proxy  {ep.proxy_url}   API  {ep.api_url}", highlight=False)
    err.print(f"  storing into  {ep.database}", highlight=False)
    err.print(f"  upstream      {settings.upstream_url}", highlight=False)
    err.print(f"  auth          {ep.auth_mode}", highlight=False)
    if not settings.api_key:
        err.print("  read API      loopback clients only (set DASHBOARD_API_KEY to share it)")
    prompts = server.prompts
    broken = f", {len(prompts.errors)} broken files" if prompts.errors else ""
    err.print(
        f"  MCP           {ep.proxy_url}/mcp  ({counted(len(prompts.prompts), 'prompt')} from "
        f"{settings.prompts_folder}{broken})",
        highlight=False,
        soft_wrap=True,
    )
    hint = stop_hint(settings.data_dir, port, data_dir())
    err.print(f"  stop it       Ctrl-C, or {hint}", highlight=False, soft_wrap=True)
    err.print("\n" + "\n".join(use_it_lines(ep.proxy_url, ep.team_hosts)) + "\n",
              highlight=False, soft_wrap=True)  # fmt: skip
    try:
        await server.wait()
    finally:
        # A terminal that went away (Ctrl-C also kills a `| tee`) must not skip the drain.
        with contextlib.suppress(OSError):
            err.print("stopping: the recorder stores what is left…")
        await server.stop()
        remove_pid_file(pid_file)
    if server.failed:
        fail("a Nexus task failed; see the log above")
