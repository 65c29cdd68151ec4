"""Every option of every command has an environment-variable twin (DESIGN.md §2), shown in --help.

Options that are settings shared across commands name theirs where they are declared
(``DATABASE_URL``, ``NEXUS_DATA_DIR``, ``NEXUS_PROXY_PORT``…, see ``options.py``); every other
option gets ``NEXUS_<COMMAND>_<OPTION>`` here (``nexus db prune --older-than`` →
``NEXUS_DB_PRUNE_OLDER_THAN``), and the output switches every command shares get one name each
(``NEXUS_JSON``, ``NEXUS_DEBUG``). The flag wins over the variable.
"""

from __future__ import annotations

from typing import Any

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
    """The root group: once typer has built every command under it, each option gets its twin."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        give_env_twins(self, [])
