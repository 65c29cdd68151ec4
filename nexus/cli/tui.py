"""``nexus tui``: the terminal UI over a Nexus read API — the local ``nexus serve`` by default, or a
team server with ``--server URL --key KEY``. Thin: options → Settings → client → app."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nexus.cli import options

if TYPE_CHECKING:
    from nexus.settings import Settings

ServerUrl = Annotated[
    Optional[str],  # noqa: UP007, UP045 - typer needs Optional on 3.11
    typer.Option(
        "--server",
        envvar="NEXUS_SERVER",
        help="The Nexus API to read, e.g. http://team-host:3001. "
        "Default: the local nexus serve (http://127.0.0.1:$NEXUS_API_PORT, port 3001).",
        show_default=False,
    ),
]


def tui(
    server: ServerUrl = None,
    key: options.ApiKey = None,
    utc: Annotated[bool, typer.Option("--utc", help="Show times in UTC.")] = False,
    debug: options.Debug = False,
) -> None:
    """Watch and browse the traffic: live requests, conversations, usage and analysis."""
    from nexus.cli.output import run

    settings = options.settings(api_key=key)
    url = server or settings.api_url
    code = run(_run(settings, url, UTC if utc else None), debug=debug)
    if code:
        raise typer.Exit(code)


async def _run(settings: Settings, url: str, tz: tzinfo | None) -> int:
    from nexus.client import NexusClient
    from nexus.tui.app import make_app

    async with NexusClient(url, api_key=settings.api_key) as client:
        app = make_app(settings, client, tz=tz)
        await app.run_async()
    return app.return_code or 0
