"""`nexus alerts check | test`: show the alerts configuration (never its secrets) and send one
alert of each kind to every destination that takes it, saying where each went or why it failed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexus.cli import options
from nexus.cli.output import EXIT_FAILURE, err, fail, out, print_json, run

if TYPE_CHECKING:
    from nexus.alerts.config import AlertConfig
    from nexus.alerts.worker import Delivery

app = typer.Typer(
    help="Alerts to Slack and HTTP webhooks: check the configuration, send test alerts "
    "(docs/alerts.md).",
    no_args_is_help=True,
)
Host = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--for-host",
        help="Route as alerts of this proxy host (its own destinations, then the global ones). "
        "Default: the global destinations only.",
        show_default=False,
    ),
]


def _config(credentials_dir: Path | None, alerts_config: Path | None) -> AlertConfig:
    from nexus.alerts.config import load_alert_config
    from nexus.errors import ConfigError

    settings = options.settings(credentials_dir=credentials_dir, alerts_config=alerts_config)
    path = settings.alerts_config_path
    try:
        config = load_alert_config(path, required=True)
    except ConfigError as exc:
        fail(exc.message)
    if not config.all_destinations():
        fail(f"{path} names no destination: add one (docs/alerts.md)")
    return config


@app.command("check")
def check(
    credentials_dir: options.CredentialsDir = None,
    alerts_config: options.AlertsConfig = None,
    json: options.Json = False,
) -> None:
    """Validate the alerts configuration and list its destinations (secrets left out)."""
    from nexus.alerts.config import ALL_KINDS, describe, is_loose

    config = _config(credentials_dir, alerts_config)
    rows = []
    for dest in config.destinations:
        rows.append(("(global)", dest))
    for host, entry in config.hosts.items():
        for dest in entry.destinations:
            rows.append((host, dest))
    if json:
        for scope, dest in rows:
            line = {
                "scope": scope, "destination": describe(dest),
                "kinds": sorted(k.value for k in dest.kinds),
            }  # fmt: skip
            print_json(line)
        return
    from rich.table import Table

    table = Table(title=f"Alerts: {config.path}", title_justify="left")
    for title in ("Scope", "Destination", "Kinds"):
        table.add_column(title)
    for scope, dest in rows:
        shown = "all" if dest.kinds == ALL_KINDS else ", ".join(sorted(k.value for k in dest.kinds))
        table.add_row(scope, describe(dest), shown)
    out.print(table)
    turns = [h for h, e in config.hosts.items() if e.turns]
    err.print(f"per-turn messages: {', '.join(turns) if turns else 'off for every host'}")
    if config.path is not None and is_loose(config.path):
        err.print(f"[yellow]warning:[/] {config.path} may be read by others: chmod 600 it")


@app.command("test")
def test(
    host: Host = None,
    credentials_dir: options.CredentialsDir = None,
    alerts_config: options.AlertsConfig = None,
    json: options.Json = False,
    debug: options.Debug = False,
) -> None:
    """Send one alert of each kind (marked [test]) to every destination that takes it, and say
    where each went or what failed. Exits 1 when any delivery failed."""
    config = _config(credentials_dir, alerts_config)
    results, unrouted = run(_send_samples(config, host or ""), debug=debug)
    if json:
        for r in results:
            line = {
                "kind": r.alert.kind.value, "destination": r.destination, "sent": r.is_sent,
                "attempts": r.attempts, "error": r.error,
            }  # fmt: skip
            print_json(line)
    else:
        from rich.table import Table

        table = Table(title="Test alerts", title_justify="left")
        for title in ("Kind", "Destination", "Result"):
            table.add_column(title)
        for r in results:
            tries = f" after {r.attempts} attempts" if r.attempts > 1 else ""
            result = f"[green]sent{tries}[/]" if r.is_sent else f"[red]failed{tries}: {r.error}[/]"
            table.add_row(r.alert.kind.value, r.destination, result)
        out.print(table)
    for kind in unrouted:
        err.print(f"[yellow]{kind}:[/] no destination takes this kind")
    failed = sum(1 for r in results if not r.is_sent)
    if failed:
        err.print(f"[red]{failed} of {len(results)} deliveries failed[/]")
        raise typer.Exit(EXIT_FAILURE)


async def _send_samples(config: AlertConfig, host: str) -> tuple[list[Delivery], list[str]]:
    import asyncio
    import logging

    from nexus.alerts import AlertQueue
    from nexus.alerts.samples import sample_alerts
    from nexus.alerts.worker import AlertWorker

    # The table says how each delivery ended: the sender's own warning lines would repeat it.
    logging.getLogger("nexus.alerts").setLevel(logging.ERROR)
    worker = AlertWorker(AlertQueue(), config)
    alerts = sample_alerts(host)
    unrouted = [a.kind.value for a in alerts if not config.destinations_for(a)]
    with err.status("sending test alerts…"):
        try:
            sent = await asyncio.gather(*(worker.send(a) for a in alerts))
        finally:
            await worker.close()
    return [d for batch in sent for d in batch], unrouted
