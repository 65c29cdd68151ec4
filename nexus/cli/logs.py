"""`nexus logs`: the latest records, newest first, as a table or JSON lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from nexus.cli import options
from nexus.cli.output import out, run
from nexus.numbers import cost
from nexus.record_json import dumps
from nexus.records import RequestFilter, RequestSummary, is_error
from nexus.settings import Settings

if TYPE_CHECKING:
    from rich.table import Table


def logs(
    n: Annotated[int, typer.Option("-n", "--lines", help="How many records.", min=1)] = 20,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors",
            help="Only failed calls: no answer, an error status, or a stream that broke off or "
            "ended in an error event (the API's status=error).",
        ),
    ] = False,
    db: options.Db = None,
    data_dir: options.DataDir = None,
    as_json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Show the latest recorded calls (id, local time, host, model, status, tokens, cost, timings, error).

    The id is Nexus's (the TUI, the API and `nexus export` take it); --json prints each call as
    the API lists it (GET /api/requests), epoch milliseconds and all.
    """
    settings = options.settings(db=db, data_dir=data_dir)
    rows = run(_latest(settings, n, RequestFilter(status="error" if errors else None)), debug=debug)
    if as_json:
        for row in rows:
            out.out(dumps(row).decode(), highlight=False)
        return
    out.print(render_table(rows))


async def _latest(settings: Settings, n: int, flt: RequestFilter) -> list[RequestSummary]:
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        return (await store.list_requests(flt, None, n)).items
    finally:
        await store.close()


# What a narrow terminal loses first; id, time, model, status and the error always stay, and an
# error gets room to be read (up to 24 columns) before the token counts do.
# The cost goes last: at 80 columns it stays unless an error needs the room to be read.
LOGS_DROP_ORDER = ("host", "ttfb", "stream", "cache w/r", "ms", "in", "out", "cost")


def render_table(rows: list[RequestSummary], width: int | None = None) -> object:
    """A table that fits the terminal, leaving out the least important columns first (and saying
    so). Times are local, as in the TUI."""
    from rich.console import Group

    from nexus.cli.fit import fit_table, left_out_note

    if not rows:
        return "No calls recorded yet. Run `nexus serve` and point Claude Code at it."
    table, left_out = fit_table(lambda out: _table(rows, out), LOGS_DROP_ORDER, width or out.width)
    return Group(table, f"[dim]{left_out_note(left_out)}[/]") if left_out else table


def _table(rows: list[RequestSummary], left_out: frozenset[str]) -> Table:
    from rich.table import Table

    table = Table(header_style="bold", box=None, pad_edge=False)
    columns = [("id", "left"), ("time", "left"), ("host", "left"), ("model", "left"),
               ("status", "right"), ("stream", "center"), ("in", "right"), ("out", "right"),
               ("cost", "right"), ("cache w/r", "right"), ("ms", "right"), ("ttfb", "right"), ("error", "left")]  # fmt: skip
    kept = [i for i, (name, _) in enumerate(columns) if name not in left_out]
    for i in kept:
        name, justify = columns[i]
        header = "" if name == "stream" else name
        room = None
        if name == "error":  # as wide as the longest error, up to 24 columns; then it wraps
            room = max(min(max((len(s.error or "") for s in rows), default=0), 24), len(name))
        table.add_column(
            header,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name != "error",
            max_width=room,
        )
    for s in rows:
        status = "—" if s.status is None else str(s.status)
        colour = "red" if is_error(s.status, s.outcome) else "green"
        cells = [
            s.id,
            _local_clock(s.started_at_ms),
            s.host,
            (s.model or s.path).removeprefix("claude-"),
            f"[{colour}]{status}[/]",
            "⇣" if s.is_streaming else "",
            f"{s.usage.input_tokens:,}",
            f"{s.usage.output_tokens:,}",
            cost(s.cost_usd_micros),
            f"{s.usage.cache_creation_input_tokens:,}/{s.usage.cache_read_input_tokens:,}",
            str(s.duration_ms),
            "" if s.ttfb_ms is None else str(s.ttfb_ms),
            s.error or "",
        ]
        table.add_row(*(cells[i] for i in kept))
    return table


def _local_clock(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S")
