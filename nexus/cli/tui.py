"""``nexus tui``: the terminal UI over a Nexus read API — the local ``nexus serve`` by default, or a
team server with ``--server URL --key KEY``; ``--conversation ID [--branch B]`` or ``--request ID``
open straight there. Thin: options → Settings → client → app."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nexus.cli import options

if TYPE_CHECKING:
    from nexus.settings import Settings
    from nexus.tui.first_page import FirstPage
    from nexus.tui.links import DeepLink

ServerUrl = Annotated[
    Optional[str],  # noqa: UP007, UP045 - typer needs Optional on 3.11
    options.option(
        "server",
        help="The Nexus API to read, e.g. http://team-host:3001. "
        "Default: the local nexus serve (http://127.0.0.1:$NEXUS_API_PORT, port 3001).",
    ),
]

Id = Optional[str]  # noqa: UP007, UP045 - typer needs Optional on 3.11


def tui(
    server: ServerUrl = None,
    key: options.ApiKey = None,
    utc: Annotated[bool, typer.Option("--utc", help="Show times in UTC.")] = False,
    conversation: Annotated[
        Id,
        typer.Option(
            "--conversation",
            help="Open this conversation (its full id, as a detail screen shows and copies).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        Id,
        typer.Option(
            "--branch",
            help="With --conversation: put the cursor on this branch (main, branch-2, task-1…).",
            show_default=False,
        ),
    ] = None,
    request: Annotated[
        Id,
        typer.Option("--request", help="Open this request (its full id).", show_default=False),
    ] = None,
    debug: options.Debug = False,
) -> None:
    """Watch and browse the traffic: live requests, conversations, usage and analysis."""
    from nexus.cli.output import run
    from nexus.tui.links import DeepLink, check_link

    start = DeepLink(conversation_id=conversation, branch=branch, request_id=request)
    if problem := check_link(start):
        raise typer.BadParameter(problem)
    settings = options.settings(api_key=key)
    url = server or settings.api_url
    first_page = None
    if not (conversation or request):  # Live opens first: fetch its rows while the UI imports
        from nexus.tui.first_page import prefetch_requests
        from nexus.tui.paging import PAGE_SIZE

        first_page = prefetch_requests(url, settings.api_key, PAGE_SIZE)
    code = run(_run(settings, url, UTC if utc else None, start, first_page), debug=debug)
    if code:
        raise typer.Exit(code)


async def _run(
    settings: Settings,
    url: str,
    tz: tzinfo | None,
    start: DeepLink,
    first_page: FirstPage | None,
) -> int:
    from nexus.client import NexusClient
    from nexus.tui.app import make_app

    async with NexusClient(url, api_key=settings.api_key) as client:
        app = make_app(settings, client, tz=tz, start=start, first_page=first_page)
        await app.run_async()
    return app.return_code or 0
