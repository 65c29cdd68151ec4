"""Rich tables for `nexus usage`: the usage groups, each account's windows, who used the window.

Renders the JSON document of ``nexus.usage.report`` (local or fetched from the API), so both paths
print the same thing. Countdowns are computed from ``reset_at_ms`` at render time, so ``--watch``
ticks without refetching.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nexus import numbers
from nexus.cli.fit import fit_table, left_out_note
from nexus.numbers import counted

_TOKEN_COLUMNS = (
    ("input", "Input"),
    ("cache_write_5m", "Write 5m"),
    ("cache_write_1h", "Write 1h"),
    ("cache_read", "Cache read"),
    ("output", "Output"),
)
_BAR_WIDTH = 10
# What a narrow terminal loses first; the group, Output and Cost always stay.
USAGE_DROP_ORDER = ("Write 1h", "Write 5m", "Cache read", "Errors", "Input", "Requests")
WINDOWS_DROP_ORDER = ("Source", "Status", "Full at this rate")


def render(data: dict[str, Any], now_ms: int, width: int = 10_000) -> RenderableType:
    parts: list[RenderableType] = [usage_table(data["usage"], width)]
    windows = data.get("windows") or {}
    if windows.get("accounts"):
        parts.append(windows_table(windows, now_ms, width))
        shares = attribution_table(windows)
        if shares is not None:
            parts.append(shares)
    return Group(*parts)


def usage_table(usage: dict[str, Any], width: int = 10_000) -> Table:
    """The usage groups; columns a ``width`` too narrow cannot hold are left out, least important
    first (never Output or Cost), and the caption names them."""
    table, left_out = fit_table(lambda out: _usage_table(usage, out), USAGE_DROP_ORDER, width)
    if left_out:
        note = left_out_note(left_out)
        table.caption = f"{table.caption}\n{note}" if table.caption else note
    return table


def _usage_table(usage: dict[str, Any], left_out: frozenset[str]) -> Table:
    dims: list[str] = usage.get("group_by") or []
    table = Table(title=_usage_title(usage), title_justify="left", expand=False)
    rows = usage.get("rows", [])
    for dim in dims:
        longest = max((len(str(r.get("group", {}).get(dim) or "")) for r in rows), default=4)
        table.add_column(
            dim.replace("_", " ").title(),
            overflow="ellipsis",
            no_wrap=True,
            min_width=min(max(longest, 5), 20),
        )
    titles = ["Requests", "Errors", *(t for _, t in _TOKEN_COLUMNS), "Cost"]
    kept = [i for i, title in enumerate(titles) if title not in left_out]
    for i in kept:
        table.add_column(titles[i], justify="right", no_wrap=True, min_width=min(len(titles[i]), 8))
    for row in usage.get("rows", []):
        group = row.get("group", {})
        numbers = _numbers(row)
        table.add_row(*[_group_value(group.get(d)) for d in dims], *(numbers[i] for i in kept))
    total = usage.get("total")
    if total and len(usage.get("rows", [])) > 1:
        table.add_section()
        numbers = _numbers(total)
        table.add_row(
            *(["[bold]total[/]"] + [""] * (len(dims) - 1) if dims else []),
            *(numbers[i] for i in kept),
            style="bold",
        )
    if not usage.get("rows"):
        table.caption = "no requests in this range"
    elif total and total.get("unpriced_requests"):
        table.caption = (
            f"* {counted(total['unpriced_requests'], 'request')} unpriced (model not in the "
            "price book): costs marked ≥ leave them out"
        )
    return table


def _usage_title(usage: dict[str, Any]) -> str:
    since, until = usage.get("since_ms"), usage.get("until_ms")
    if since is None and until is None:
        return "Usage (all time)"
    return f"Usage {_when(since) if since else '…'} → {_when(until) if until else 'now'}"


def _numbers(row: dict[str, Any]) -> list[str]:
    tokens = row.get("tokens", {})
    errors = row.get("errors", 0)
    return [
        f"{row.get('requests', 0):,}",
        f"[red]{errors:,}[/]" if errors else "0",
        *(numbers.tokens(tokens.get(key, 0)) for key, _ in _TOKEN_COLUMNS),
        cost_text(row.get("cost_usd_micros", 0), row.get("unpriced_requests", 0)),
    ]


def cost_text(micros: int, unpriced: int) -> str:
    """``$1.23``; with unpriced requests ``≥ $1.23*``: a lower bound, never shown as exact."""
    text = numbers.cost(micros)
    return f"[yellow]≥ {text}*[/]" if unpriced else text


def windows_table(windows: dict[str, Any], now_ms: int, width: int = 10_000) -> Table:
    """Each account's windows; columns a ``width`` too narrow cannot hold are left out, least
    important first (Source, then Status), and the caption names them."""
    rows = _window_rows(windows, now_ms)
    longest = max((len(a["account"]) for a in windows["accounts"]), default=7)
    columns: list[tuple[str, dict[str, Any]]] = [
        ("Account", {"overflow": "ellipsis", "min_width": min(longest, 24)}),
        ("Window", {}),
        ("Used", {}),
        ("Status", {}),
        ("Resets in", {"justify": "right"}),
        ("Full at this rate", {"justify": "right"}),
        ("Source", {}),
    ]

    def build(left_out: frozenset[str]) -> Table:
        table = Table(title="Rate-limit windows", title_justify="left")
        kept = [i for i, (title, _) in enumerate(columns) if title not in left_out]
        for i in kept:
            table.add_column(columns[i][0], no_wrap=True, **columns[i][1])
        for row in rows:
            table.add_row(*(row[i] for i in kept))
        return table

    table, left_out = fit_table(build, WINDOWS_DROP_ORDER, width)
    table.caption = (
        "◆ the window the server says binds · estimate: token sums over the rolling "
        "window (the account's responses carry no window headers) · full at this rate: when "
        "the window reaches 100 % at the burn rate of the last fifth of the window"
    )
    if left_out:
        table.caption += "\n" + left_out_note(left_out)
    return table


def _window_rows(windows: dict[str, Any], now_ms: int) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for acct in windows["accounts"]:
        name = acct["account"]
        claim = acct.get("representative_claim")
        for w in acct.get("windows", []):
            binding = " [bold magenta]◆[/]" if w.get("is_binding") else ""
            if w.get("source") == "headers":
                used = _bar(w.get("utilization"))
                resets = _countdown(w.get("reset_at_ms"), now_ms)
                status = _status(w.get("status") or acct.get("status"))
                source = f"server {_ago(acct.get('at_ms'), now_ms)}"
                full = forecast_text(w.get("forecast"), now_ms)
            else:
                used = (
                    f"{numbers.tokens(w.get('tokens', 0))} tok · "
                    f"{cost_text(w.get('cost_usd_micros', 0), w.get('unpriced_requests', 0))}"
                )
                resets = "rolling"
                status = "—"
                source = "[dim]estimate[/]"
                full = "—"
            rows.append((name, w["name"] + binding, used, status, resets, full, source))
            name = ""
        for lim in acct.get("api_limits", []):
            used = _bar(lim.get("utilization"))
            remaining = lim.get("remaining")
            extra = (
                f" {remaining:,}/{lim.get('limit') or 0:,} left" if remaining is not None else ""
            )
            rows.append(
                (
                    name,
                    f"api {lim['name']}",
                    used + extra,
                    "—",
                    _countdown(lim.get("reset_at_ms"), now_ms),
                    "—",
                    "server",
                )
            )
            name = ""
        if claim and acct.get("fallback_percentage") is not None:
            rows.append(
                ("", "[dim]fallback[/]", f"{acct['fallback_percentage']:.0%}", "", "", "", "")
            )
    return rows


def attribution_table(windows: dict[str, Any], top: int = 10) -> Table | None:
    rows = []
    for acct in windows.get("accounts", []):
        current = {w["name"]: w.get("reset_at_ms") for w in acct.get("windows", [])}
        for share in acct.get("attribution", []):
            if share["window"] == "5h" and share.get("reset_at_ms") == current.get("5h"):
                rows.append((acct["account"], share))
    if not rows:
        return None
    rows.sort(key=lambda item: -item[1]["utilization"])
    table = Table(title="Who used the current 5-hour window", title_justify="left")
    for title in ("Account", "Session", "Client key", "Share of window", "Requests"):
        table.add_column(
            title, justify="right" if title in ("Share of window", "Requests") else "left"
        )
    for account, share in rows[:top]:
        table.add_row(
            account,
            share.get("session_id") or "—",
            share.get("client_key_id") or "—",
            f"{share['utilization']:.1%}",
            f"{share['requests']:,}",
        )
    return table


def _bar(utilization: float | None) -> str:
    if utilization is None:
        return "[dim]n/a[/]"
    filled = max(0, min(_BAR_WIDTH, round(utilization * _BAR_WIDTH)))
    color = "green" if utilization < 0.7 else "yellow" if utilization < 0.9 else "red"
    return f"[{color}]{'█' * filled}[/][dim]{'░' * (_BAR_WIDTH - filled)}[/] {utilization:>4.0%}"


def forecast_text(forecast: dict[str, Any] | None, now_ms: int) -> str:
    """A window's forecast: when it is full at the current rate, red when before its reset."""
    if not forecast:
        return "—"
    if forecast.get("burn_per_hour") is None and forecast.get("full_at_ms") is None:
        return "[dim]too few readings[/]"
    full_at = forecast.get("full_at_ms")
    if full_at is None:
        return "[dim]not rising[/]"
    if not forecast.get("is_full_before_reset"):
        return "[green]after reset[/]"
    if full_at <= now_ms:
        return "[red]full now[/]"
    return f"[red]in {_countdown(full_at, now_ms)}[/]"


def _status(status: str | None) -> str:
    if status is None:
        return "—"
    color = {"allowed": "green", "allowed_warning": "yellow", "rejected": "red"}.get(
        status, "white"
    )
    label = {"allowed": "ok", "allowed_warning": "warning"}.get(status, status)
    return f"[{color}]{label}[/]"


def _countdown(reset_at_ms: int | None, now_ms: int) -> str:
    if reset_at_ms is None:
        return "—"
    seconds = (reset_at_ms - now_ms) // 1000
    if seconds <= 0:
        return "[dim]reset[/]"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def _ago(at_ms: int | None, now_ms: int) -> str:
    return "" if at_ms is None else numbers.ago(at_ms, now_ms)


def _group_value(value: str | None) -> str:
    return "[dim]—[/]" if value is None else Text(value).markup


def _when(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")
