"""`nexus cache`: the cache ledger as a table: what the prompt cache missed, why, and the dollars
each cause cost, then one line per break with its request id.

Reads the local database (``--db``) or a Nexus API (``--server URL --key KEY``); both give the
same JSON (``nexus.cache.report``), which ``--json`` prints as is. Tables fit 80 columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from nexus import numbers
from nexus.cli import options
from nexus.cli.output import out, print_json, run
from nexus.cli.usage import (
    AccountOpt,
    ModelOpt,
    SessionOpt,
    Since,
    Until,
    Utc,
    _local_offset_ms,
    _now_ms,
    _time_param,
    query_filter,
)
from nexus.records import CACHE_CAUSE_LABELS, CACHE_GROUPS, CacheCause
from nexus.settings import Settings

By = Annotated[
    str,
    typer.Option("--by", "-b", help=f"Total the breaks by {', '.join(CACHE_GROUPS)}."),
]
Limit = Annotated[
    int,
    typer.Option("--limit", "-n", help="Breaks listed (newest first).", min=0, max=1000),
]


def cache(
    since: Since = "7d",
    until: Until = None,
    by: By = "cause",
    account: AccountOpt = None,
    model: ModelOpt = None,
    session: SessionOpt = None,
    limit: Limit = 20,
    utc: Utc = False,
    server: options.Server = None,
    key: options.ApiKey = None,
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Prompt-cache breaks: why the cache missed and what each miss cost (docs/cache.md)."""
    group = by.strip().lower()
    if group not in CACHE_GROUPS:
        raise typer.BadParameter(f"{by!r}: use one of {', '.join(CACHE_GROUPS)}", param_hint="--by")
    now = _now_ms()
    query: dict[str, Any] = {
        "by": group,
        "since": _time_param("--since", since, now),
        "until": _time_param("--until", until, now),
        "account": account,
        "model": model,
        "session": session,
        "limit": limit,
        "utc_offset_ms": 0 if utc else _local_offset_ms(),
    }
    if server:
        data = run(_remote(server, key, query), debug=debug)
    else:
        data = run(_local(options.settings(db=db, data_dir=data_dir), query), debug=debug)
    if as_json:
        print_json(data, default=_plain)
        return
    for part in render(data, since, int(query["utc_offset_ms"])):
        out.print(part)


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    raise TypeError(type(value).__name__)


async def _local(settings: Settings, query: dict[str, Any]) -> dict[str, Any]:
    from nexus.cache.report import cache_report_json
    from nexus.store import open_store

    store: Any = await open_store(settings)
    try:
        return await cache_report_json(
            store,
            query_filter(query),
            query["by"],
            limit=query["limit"],
            utc_offset_ms=query["utc_offset_ms"],
        )
    finally:
        await store.close()


async def _remote(server: str, key: str | None, query: dict[str, Any]) -> dict[str, Any]:
    from nexus.client import NexusClient

    async with NexusClient(server, key, timeout=30.0) as client:
        return await client.cache(
            query["by"],
            flt=query_filter(query),
            limit=max(query["limit"], 1),
            utc_offset_ms=query["utc_offset_ms"],
        )


# -- tables -------------------------------------------------------------------------------------


def render(data: dict[str, Any], since: str | None, utc_offset_ms: int) -> list[Any]:
    """The headline, the group table and the list of breaks."""
    totals = data["totals"]
    efficiency = totals.get("efficiency")
    head = Text()
    head.append("Cache ledger", style="bold")
    head.append(f" since {since}" if since else "")
    head.append(f": {numbers.counted(totals['requests'], 'request')}, ")
    head.append(
        f"{numbers.share(efficiency)} read from cache" if efficiency is not None else "no caching"
    )
    head.append(f", {numbers.counted(totals['breaks'], 'break')}, ")
    head.append(_dollars(totals["excess_cost_usd_micros"]), style="bold red")
    head.append(
        " lost" + (f" (+{totals['unpriced_breaks']} unpriced)" if totals["unpriced_breaks"] else "")
    )
    parts: list[Any] = [head]
    if not totals["requests"]:
        parts.append(Text("No requests recorded in this period (--since widens it)."))
        return parts
    if not totals["breaks"]:
        parts.append(Text("No cache breaks: every request read what its predecessor cached."))
        return parts
    parts += [Text(""), _groups_table(data)]
    breaks = data.get("breaks") or []
    if breaks:
        parts += [Text(""), _breaks_table(breaks, utc_offset_ms)]
    if data.get("next_cursor"):
        shown = f"(newest {numbers.counted(len(breaks), 'break')} shown; --limit for more)"
        parts.append(Text(shown, style="dim"))
    return parts


def _groups_table(data: dict[str, Any]) -> Table:
    by = data["by"]
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(by, overflow="ellipsis", no_wrap=True, max_width=36)
    if by != "cause":
        table.add_column("read", justify="right")
    table.add_column("breaks", justify="right")
    table.add_column("missed tok", justify="right")
    table.add_column("lost", justify="right")
    for group in data["groups"]:
        row = [_group_name(by, group["group"])]
        if by != "cause":
            efficiency = group.get("efficiency")
            row.append(numbers.share(efficiency))
        row += [
            f"{group['breaks']:,}",
            numbers.tokens(group["missed_tokens"]),
            _dollars(group["excess_cost_usd_micros"]),
        ]
        table.add_row(*row)
    return table


def _breaks_table(breaks: list[Any], utc_offset_ms: int) -> Text:
    """One line per break (when, request id, cause, missed tokens, dollars lost; 79 columns),
    its detail indented beneath."""
    lines = Text()
    lines.append(f"{'when':<11}  {'request':<32}  {'cause':<17} {'missed':>6} {'lost':>7}\n",
                 style="bold")  # fmt: skip
    for entry in breaks:
        row = _entry(entry)
        when = datetime.fromtimestamp((row["started_at_ms"] + utc_offset_ms) / 1000, UTC)
        lines.append(
            f"{when:%m-%d %H:%M}  {row['request_id']:<32}  "
            f"{_group_name('cause', row['cause']):<17} {numbers.tokens(row['missed_tokens']):>6} "
        )
        lines.append(f"{_dollars(row['excess_cost_usd_micros']):>7}\n", style="red")
        lines.append(_cut("             " + row["detail"], 79) + "\n", style="dim")
    lines.rstrip()
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _entry(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    from dataclasses import asdict

    return asdict(entry)


def _group_name(by: str, value: str | None) -> str:
    if by == "cause" and value is not None:
        try:
            return CACHE_CAUSE_LABELS[CacheCause(value)]
        except ValueError:
            return value
    return value or "(none)"


def _dollars(micros: int | None) -> str:
    return numbers.UNPRICED if micros is None else numbers.cost(micros)
