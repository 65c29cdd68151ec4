"""Renders the command-line reference (docs/cli.md) from the typer app itself, so it cannot drift:
``python -m nexus.cli.reference > docs/cli.md``; a test fails when the file is stale."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import click


def render(app: typer.Typer) -> str:
    root: Any = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands' own help by `python -m nexus.cli.reference > docs/cli.md`.",
        "Every option has an environment variable and can be set either way; the flag wins.",
        "Settings shared by several commands keep one name everywhere (`DATABASE_URL`,",
        "`NEXUS_DATA_DIR`, `NEXUS_PROXY_PORT`, …); `--json` and `--debug` are `NEXUS_JSON` and",
        "`NEXUS_DEBUG`; every other option is `NEXUS_<COMMAND>_<OPTION>`, e.g. `nexus db prune",
        "--older-than` is `NEXUS_DB_PRUNE_OLDER_THAN`. Flags that are on or off take `1` or `0`.",
        "",
    ]
    for path, command in _walk(root, ["nexus"]):
        lines += _command(path, command)
    return "\n".join(lines).rstrip() + "\n"


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if _is_group(command):
        for name in sorted(command.commands):  # type: ignore[attr-defined]
            sub = command.commands[name]  # type: ignore[attr-defined]
            if not sub.hidden:
                found += _walk(sub, [*path, name])
    return found


def _command(path: list[str], command: click.Command) -> list[str]:
    out = [f"## `{' '.join(path)}`", ""]
    text = inspect.cleandoc(command.help or command.short_help or "")
    if text:
        out += [text.replace("\b\n", ""), ""]
    args = [p for p in command.params if p.param_type_name == "argument"]
    opts = [
        p
        for p in command.params
        if p.param_type_name == "option" and not getattr(p, "hidden", False)
    ]
    usage = " ".join(
        [*path, "[OPTIONS]" if opts else "", *(a.name.upper() for a in args if a.name)]
    )
    out += ["```", " ".join(usage.split()), "```", ""]
    # A group whose callback runs on its own (`nexus usage`) has options of its own: show them.
    if _is_group(command) and not getattr(command, "invoke_without_command", False):
        return out
    rows = [_row(p) for p in args + opts if p.name not in ("install_completion", "show_completion")]
    if rows:
        out += ["| argument / option | environment | default | meaning |", "|---|---|---|---|"]
        out += rows
        out.append("")
    return out


def _is_group(command: click.Command) -> bool:
    # typer ships its own copy of click, so isinstance checks against click's classes fail.
    return hasattr(command, "commands")


def _row(param: click.Parameter) -> str:
    is_option = param.param_type_name == "option"
    label = (param.name or "").upper()
    names = ", ".join(f"`{o}`" for o in param.opts) if is_option else f"`{label}`"
    envvar = getattr(param, "envvar", None)
    env = ", ".join(f"`{e}`" for e in ([envvar] if isinstance(envvar, str) else envvar or []))
    default = param.default
    # A declared setting's option defaults to None (its default lives in Settings) and names
    # that default in show_default.
    if is_option and default is None and isinstance(getattr(param, "show_default", None), str):
        default = param.show_default  # type: ignore[attr-defined]
    if is_option and (getattr(param, "is_flag", False) or default in (None, "", ())):
        shown = ""
    else:
        shown = f"`{default}`" if default is not None and not callable(default) else ""
    meaning = " ".join((getattr(param, "help", "") or "").split()).replace("|", "\\|")
    return f"| {names} | {env} | {shown} | {meaning} |"


if __name__ == "__main__":
    from nexus.cli.main import app as nexus_app

    print(render(nexus_app), end="")
