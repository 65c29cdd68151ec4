"""`nexus logs`: the latest records, newest first, as a table or JSON lines."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from nexus.cli import options
from nexus.cli.output import out, run
from nexus.records import RequestFilter, RequestSummary, is_error
from nexus.settings import Settings


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
    """Show the latest recorded calls (id, time, host, model, status, tokens, timings, error)."""
    settings = options.settings(db=db, data_dir=data_dir)
    rows = run(_latest(settings, n, RequestFilter(status="error" if errors else None)), debug=debug)
    if as_json:
        for row in rows:
            out.out(orjson.dumps(log_row(row)).decode(), highlight=False)
        return
    out.print(render_table(rows))


async def _latest(settings: Settings, n: int, flt: RequestFilter) -> list[RequestSummary]:
    from nexus.store import open_store

    store = await open_store(settings)
    try:
        return (await store.list_requests(flt, None, n)).items
    finally:
        await store.close()


def log_row(s: RequestSummary) -> dict[str, object]:
    return {
        "id": s.id,
        "time": _iso(s.started_at_ms),
        "host": s.host,
        "model": s.model,
        "status": s.status,
        "stream": s.is_streaming,
        "input_tokens": s.usage.input_tokens,
        "output_tokens": s.usage.output_tokens,
        "cache_creation_tokens": s.usage.cache_creation_input_tokens,
        "cache_read_tokens": s.usage.cache_read_input_tokens,
        "duration_ms": s.duration_ms,
        "ttfb_ms": s.ttfb_ms,
        "error": s.error,
        "path": s.path,
        "outcome": str(s.outcome),
    }


def render_table(rows: list[RequestSummary], width: int | None = None) -> object:
    """A table that fits the terminal: the host column only when there is room for it."""
    from rich.table import Table

    if not rows:
        return "No calls recorded yet. Run `nexus serve` and point Claude Code at it."
    show_host = (width or out.width) >= 110
    table = Table(header_style="bold", box=None, pad_edge=False)
    columns = [("time", "left"), ("model", "left"), ("status", "right"), ("", "center"),
               ("in", "right"), ("out", "right"), ("cache w/r", "right"), ("ms", "right"),
               ("ttfb", "right"), ("error", "left")]  # fmt: skip
    if show_host:
        columns.insert(1, ("host", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name != "error")  # type: ignore[arg-type]
    for s in rows:
        status = "—" if s.status is None else str(s.status)
        colour = "red" if is_error(s.status, s.outcome) else "green"
        cells = [
            _iso(s.started_at_ms)[11:19],
            (s.model or s.path).removeprefix("claude-"),
            f"[{colour}]{status}[/]",
            "⇣" if s.is_streaming else "",
            f"{s.usage.input_tokens:,}",
            f"{s.usage.output_tokens:,}",
            f"{s.usage.cache_creation_input_tokens:,}/{s.usage.cache_read_input_tokens:,}",
            str(s.duration_ms),
            "" if s.ttfb_ms is None else str(s.ttfb_ms),
            s.error or "",
        ]
        if show_host:
            cells.insert(1, s.host)
        table.add_row(*cells)
    return table


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
