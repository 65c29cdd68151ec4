"""One declaration per setting: the variable ``Settings`` reads, the option a command takes and the
README's configuration table all come from ``nexus.settings.DECLARED`` and cannot drift apart
(``nexus serve`` once read ``NEXUS_MAX_BODY_MB`` while ``Settings`` read ``NEXUS_MAX_BODY_BYTES``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from nexus.cli.env_twins import NOT_SETTINGS, env_name, flag_name
from nexus.cli.main import app
from nexus.cli.reference import _walk
from nexus.settings import DECLARED, SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {name for name in Settings.__dataclass_fields__}
SAMPLES = {int: "4321", float: "2.5", Path: "/some/where", str: "a-value"}


def test_every_option_variable_is_a_declared_one_or_its_commands_own():
    # An option either carries the variable of a declared setting or the NEXUS_<COMMAND>_<OPTION>
    # one env_twins gives it: a third name means a setting spelled twice.
    strays = []
    for path, command in _walk(typer.main.get_command(app), ["nexus"]):
        for param in command.params:
            if param.param_type_name != "option" or param.name in NOT_SETTINGS:
                continue
            own = env_name(path[1:], flag_name(param))
            if param.envvar != own and param.envvar not in {d.env for d in DECLARED}:
                strays.append(f"{' '.join(path)} {param.opts[0]}: {param.envvar}")
    assert strays == []


# Filters that share a setting's flag but not its meaning: `--host` picks calls by their Host.
FILTERS = {("nexus", "export", "--host"), ("nexus", "usage", "--host")}


def test_an_option_of_a_declared_setting_reads_the_declared_variable():
    seen = 0
    for path, command in _walk(typer.main.get_command(app), ["nexus"]):
        for param in command.params:
            declared = next((d for d in DECLARED if d.flag in param.opts), None)
            if declared is None or (*path, declared.flag) in FILTERS:
                continue
            seen += 1
            assert param.envvar == declared.env, f"{' '.join(path)} {declared.flag}"
    assert seen > 30  # the walk reached the commands (every one takes --data-dir or --db)


@pytest.mark.parametrize("declared", [d for d in DECLARED if d.key in FIELDS], ids=str)
def test_settings_reads_each_declared_variable(declared, tmp_path):
    text = SAMPLES[declared.parse] if declared.parse in SAMPLES else "x"  # type: ignore[index]
    settings = Settings.from_env({declared.env: text, "XDG_DATA_HOME": str(tmp_path)})
    assert getattr(settings, declared.key) == declared.parse(text)
    assert getattr(Settings.from_env({"XDG_DATA_HOME": str(tmp_path)}), declared.key) != (
        declared.parse(text)
    )


def test_the_readme_table_names_each_flag_with_its_variable():
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("|")]
    for declared in DECLARED:
        if declared.key in FIELDS and declared.flag:
            assert any(f"`{declared.flag}`" in r and f"`{declared.env}`" in r for r in rows), (
                declared.env
            )
    assert SETTINGS["max_body_bytes"].env == "NEXUS_MAX_BODY_BYTES"
