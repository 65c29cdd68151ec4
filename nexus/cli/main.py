"""The ``nexus`` command: builds the typer app from one module per command group.

Heavy modules are imported inside the commands, so ``nexus --help`` stays fast. ``nexus CMD …``
imports only CMD's module: a root app holding that one command prints the same help and errors
for it as the full app, and ``nexus tui`` starts ~0.2 s sooner (docs/tui.md, cold start). The full
app (every command) is built for anything else, and on first use of ``app``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Literal

import typer

from nexus import __version__
from nexus.cli.env_twins import NexusGroup

# Each command's module is nexus.cli.<name>; in the order --help lists them. How it joins the root:
# its function of the same name, its typer ``app`` (a group), or its own ``register``.
COMMANDS: dict[str, Literal["command", "group", "register"]] = {
    "serve": "command",
    "logs": "command",
    "export": "command",
    "db": "group",
    "usage": "group",
    "cache": "command",
    "auth": "group",
    "prompts": "group",
    "alerts": "group",
    "tui": "command",
    "doctor": "command",
    "analyze": "command",
    "claude": "register",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nexus {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Nexus: a monitoring proxy for teams that use Claude Code."""


def build(names: list[str]) -> typer.Typer:
    """The root app with the commands ``names`` (their modules are imported here)."""
    root = typer.Typer(
        name="nexus",
        cls=NexusGroup,
        help="Nexus: a monitoring proxy for teams that use Claude Code.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )
    root.callback()(_root)
    for name in names:
        module = importlib.import_module(f"nexus.cli.{name}")
        how = COMMANDS[name]
        if how == "group":
            root.add_typer(module.app, name=name)
        elif how == "register":
            module.register(root)
        else:
            root.command(name)(getattr(module, name))
    return root


def __getattr__(name: str) -> typer.Typer:
    """``app``: the full app, built once when first asked for (tests, ``nexus reference``)."""
    if name != "app":
        raise AttributeError(name)
    full = globals()["app"] = build(list(COMMANDS))
    return full


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    build([first] if first in COMMANDS else list(COMMANDS))()
