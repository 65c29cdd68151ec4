"""The ``nexus`` command: builds the typer app from one module per command group.

Heavy modules are imported inside the commands, so ``nexus --help`` stays fast.
"""

from __future__ import annotations

import typer

from nexus import __version__
from nexus.cli import (
    alerts,
    analyze,
    auth,
    cache,
    claude,
    db,
    doctor,
    export,
    logs,
    prompts,
    serve,
    tui,
    usage,
)
from nexus.cli.env_twins import NexusGroup

app = typer.Typer(
    name="nexus",
    cls=NexusGroup,
    help="Nexus: a monitoring proxy for teams that use Claude Code.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nexus {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Nexus: a monitoring proxy for teams that use Claude Code."""


app.command("serve")(serve.serve)
app.command("logs")(logs.logs)
app.command("export")(export.export)
app.add_typer(db.app, name="db")
app.add_typer(usage.app, name="usage")
app.command("cache")(cache.cache)
app.add_typer(auth.app, name="auth")
app.add_typer(prompts.app, name="prompts")
app.add_typer(alerts.app, name="alerts")
app.command("tui")(tui.tui)
app.command("doctor")(doctor.doctor)
app.command("analyze")(analyze.analyze)
claude.register(app)


def main() -> None:
    app()
