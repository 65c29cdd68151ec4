"""Every option of every command has an environment-variable twin (DESIGN.md §2), shown in --help.

Options that are settings shared across commands name theirs where they are declared
(``DATABASE_URL``, ``NEXUS_DATA_DIR``, ``NEXUS_PROXY_PORT``…, see ``options.py``); every other
option gets ``NEXUS_<COMMAND>_<OPTION>`` here (``nexus db prune --older-than`` →
``NEXUS_DB_PRUNE_OLDER_THAN``), and the output switches every command shares get one name each
(``NEXUS_JSON``, ``NEXUS_DEBUG``). The flag wins over the variable.
"""

from __future__ import annotations

from typing import Any, NoReturn

from typer._click.exceptions import BadParameter, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

SHARED = {"json": "NEXUS_JSON", "debug": "NEXUS_DEBUG"}  # by flag
NOT_SETTINGS = frozenset({"help", "version", "install_completion", "show_completion"})


def env_name(path: list[str], option: str) -> str:
    """The variable of an option without a declared one: ``NEXUS_`` + command path + option
    (its long flag without the dashes)."""
    return SHARED.get(option) or "_".join(["NEXUS", *path, option]).upper().replace("-", "_")


def flag_name(param: Any) -> str:
    """``lines`` for ``-n/--lines``, ``json`` for ``--json`` whatever the Python name is."""
    long: list[str] = [opt for opt in param.opts if opt.startswith("--")]
    name: str = long[0] if long else param.opts[0]
    return name.lstrip("-")


def give_env_twins(command: Any, path: list[str]) -> None:
    """Give each option under ``command`` (a click command or group) its variable, recursively."""
    for param in command.params:
        if param.param_type_name != "option" or param.name in NOT_SETTINGS or param.envvar:
            continue
        param.envvar = env_name(path, flag_name(param))
        param.show_envvar = True
    for name, sub in getattr(command, "commands", {}).items():
        give_env_twins(sub, [*path, name])


class NexusGroup(TyperGroup):
    """The root group: once typer has built every command under it, each option gets its twin.
    It also reports a bad command line (an unknown option, a value of the wrong type, an option a
    command's own checks refuse) as every other error is reported: one line, ``error: …``, exit 2,
    rather than typer's box."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        give_env_twins(self, [])

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # the root's own options: `nexus --bogus`
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx: Any) -> Any:
        try:  # every command's and group's options and arguments are parsed in here
            return super().invoke(ctx)
        except UsageError as exc:
            _usage_error(exc)


def _usage_error(exc: UsageError) -> NoReturn:
    if isinstance(exc, NoArgsIsHelpError):  # `nexus db`: typer has printed the help
        raise exc
    from nexus.cli.output import fail

    # A command's own check (typer.BadParameter without an option) says what is wrong by itself.
    bare = isinstance(exc, BadParameter) and exc.param is None and exc.param_hint is None
    message = exc.message if bare else exc.format_message()
    if message[:1].isupper() and message[1:2].islower():  # "Invalid value …" → "invalid value …"
        message = message[0].lower() + message[1:]
    where = exc.ctx.command_path if exc.ctx is not None else "nexus"
    fail(f"{message.rstrip('.')} (see {where} -h)", code=exc.exit_code)
