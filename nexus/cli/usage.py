"""`nexus usage`: tokens, cost, requests and errors grouped as asked, plus each account's current
rate-limit windows with a reset countdown; `nexus usage recost` re-prices history.

Reads the local database (``--db``) or a Nexus API (``--server URL --key KEY``); both give the same
JSON (``nexus.usage.report``), which the tables in ``usage_tables.py`` render.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import typer

from nexus import filters
from nexus.cli import options
from nexus.cli.output import err, fail, out, print_json, run
from nexus.records import USAGE_GROUPS, RequestFilter
from nexus.settings import Settings

app = typer.Typer(
    help="Usage, cost and rate-limit windows (tables, or --json).",
    invoke_without_command=True,
)

GROUPS = USAGE_GROUPS  # the one list: a dimension added there is offered here
ATTRIBUTION_LOOKBACK_MS = 5 * 3_600_000  # who used the current 5-hour window

By = Annotated[
    Optional[list[str]],  # noqa: UP007, UP045 - typer needs Optional on 3.11
    typer.Option(
        "--by",
        "-b",
        help=f"Group by {', '.join(GROUPS[:-1])} or {GROUPS[-1]} "
        "(repeat or comma-separate). Default: account.",
        show_default=False,
    ),
]
Since = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--since", help="Start: an age (30m, 24h, 7d), ISO 8601 time, or epoch ms."),
]
Until = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--until", help="End (exclusive), same forms as --since."),
]
PriceBook = options.PriceBook

HostOpt = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--host", help="Only this Host (as the proxy saw it).", show_default=False),
]
AccountOpt = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--account", help="Only this account id.", show_default=False),
]
ModelOpt = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--model", help="Model substring, e.g. opus.", show_default=False),
]
SessionOpt = Annotated[
    Optional[str],  # noqa: UP007, UP045
    typer.Option("--session", help="Only this Claude Code session.", show_default=False),
]
Utc = Annotated[bool, typer.Option("--utc", help="Day/hour buckets in UTC, not local time.")]
Watch = Annotated[bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C.")]
Interval = Annotated[
    float, typer.Option("--interval", help="Seconds between refreshes with --watch.", min=1.0)
]


@app.callback(invoke_without_command=True)
def usage(
    ctx: typer.Context,
    by: By = None,
    since: Since = None,
    until: Until = None,
    host: HostOpt = None,
    account: AccountOpt = None,
    model: ModelOpt = None,
    session: SessionOpt = None,
    utc: Utc = False,
    watch: Watch = False,
    interval: Interval = 5.0,
    server: options.Server = None,
    key: options.ApiKey = None,
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Usage by account (or --by …), cost, errors and the current 5-hour / 7-day windows."""
    if ctx.invoked_subcommand is not None:
        return
    now = _now_ms()
    query = {
        "by": ",".join(parse_groups(by or ["account"])),
        "since": _time_param("--since", since, now),
        "until": _time_param("--until", until, now),
        "host": host,
        "account": account,
        "model": model,
        "session": session,
        "utc_offset_ms": 0 if utc else _local_offset_ms(),
    }
    fetch = _remote(server, key) if server else _local(options.settings(db=db, data_dir=data_dir))
    if watch:
        if as_json:
            fail("--watch draws tables; leave out --json", code=2)
        run(_watch(fetch, query, interval), debug=debug)
        return
    data = run(fetch(query), debug=debug)
    if as_json:
        print_json(data)
        return
    from nexus.cli.usage_tables import render

    out.print(render(data, _now_ms(), out.width))


@app.command()
def recost(
    db: options.Db = None,
    data_dir: options.DataDir = None,
    price_book: PriceBook = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Re-price every stored request with the current price book (after prices change)."""
    settings = options.settings(db=db, data_dir=data_dir, price_book_path=price_book)
    changed, seconds = run(_recost(settings), debug=debug)
    if as_json:
        print_json({"changed": changed, "seconds": round(seconds, 3)})
        return
    err.print(f"re-priced history: {changed:,} costs changed ({seconds:.1f} s)")


async def _recost(settings: Settings) -> tuple[int, float]:
    from nexus.store import open_store
    from nexus.usage.cost import make_cost_function

    cost = make_cost_function(settings.price_book_path)
    store: Any = await open_store(settings)
    try:
        started = time.perf_counter()
        changed = await store.recost(cost)
        return changed, time.perf_counter() - started
    finally:
        await store.close()


# -- fetching ------------------------------------------------------------------------------------

Query = dict[str, Any]


def _local(settings: Settings) -> Any:
    async def fetch(query: Query) -> dict[str, Any]:
        from nexus.store import open_store

        store: Any = await open_store(settings)
        try:
            return await local_report(store, query, _now_ms())
        finally:
            await store.close()

    return fetch


async def local_report(store: Any, query: Query, now_ms: int) -> dict[str, Any]:
    """The ``{"usage": …, "windows": …}`` document from an open store (what --json prints)."""
    from nexus.usage.report import usage_report_json, windows_json, windows_report

    usage = await usage_report_json(
        store,
        query_filter(query),
        _groups(query),
        utc_offset_ms=int(query.get("utc_offset_ms") or 0),
    )
    report = await windows_report(
        store,
        now_ms,
        account=query.get("account"),
        since_ms=now_ms - ATTRIBUTION_LOOKBACK_MS,
        with_series=False,
    )
    return {"usage": usage, "windows": windows_json(report)}


def _remote(server: str, key: str | None, transport: Any = None) -> Any:
    """Fetch from a Nexus API; ``transport`` lets tests pass an ASGI transport."""

    async def fetch(query: Query) -> dict[str, Any]:
        from nexus.client import NexusClient

        offset = int(query.get("utc_offset_ms") or 0)
        async with NexusClient(server, key, timeout=30.0, transport=transport) as client:
            usage, windows = await asyncio.gather(
                client.usage(_groups(query), flt=query_filter(query), utc_offset_ms=offset),
                client.windows(
                    account=query.get("account"),
                    since_ms=_now_ms() - ATTRIBUTION_LOOKBACK_MS,
                    series=False,
                ),
            )
        return {"usage": usage, "windows": windows}

    return fetch


def query_filter(query: Query) -> RequestFilter:
    """The filter a command's query asks for (``nexus cache`` builds the same query)."""
    return RequestFilter(
        since_ms=query.get("since"),
        until_ms=query.get("until"),
        host=query.get("host"),
        account_id=query.get("account"),
        model=query.get("model"),
        session_id=query.get("session"),
    )


def _groups(query: Query) -> list[str]:
    return [g for g in str(query.get("by") or "").split(",") if g]


async def _watch(fetch: Any, query: Query, interval_s: float) -> None:
    from rich.live import Live

    from nexus.cli.usage_tables import render

    data = await fetch(query)
    fetched = time.monotonic()
    with Live(
        render(data, _now_ms(), out.width), console=out, auto_refresh=False, transient=False
    ) as live:
        try:
            while True:
                await asyncio.sleep(1.0)
                if time.monotonic() - fetched >= interval_s:
                    data = await fetch(query)
                    fetched = time.monotonic()
                live.update(
                    render(data, _now_ms(), out.width), refresh=True
                )  # countdowns tick every second
        except asyncio.CancelledError:
            return


# -- parsing -------------------------------------------------------------------------------------


def parse_groups(values: list[str]) -> list[str]:
    groups: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower().replace("-", "_")
            if not name:
                continue
            if name not in GROUPS:
                raise typer.BadParameter(
                    f"{part!r}: use one of {', '.join(GROUPS)}", param_hint="--by"
                )
            if name not in groups:
                groups.append(name)
    return groups


def _time_param(flag: str, value: str | None, now_ms: int) -> int | None:
    try:
        return parse_time(value, now_ms)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: expected an age (30m, 24h, 7d), an ISO 8601 time or epoch ms",
            param_hint=flag,
        ) from None


def parse_time(value: str | None, now_ms: int) -> int | None:
    """Epoch ms from an age (``7d`` = seven days ago), epoch ms, or ISO 8601 (naive = local)."""
    if value is None or not value.strip():
        return None
    return filters.parse_time(value, at_ms=now_ms, naive="local")


def _local_offset_ms() -> int:
    offset = datetime.now().astimezone().utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1000)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
