"""Every option of every command has an environment-variable twin, and --help shows it."""

from __future__ import annotations

import asyncio

import orjson
import typer
from typer.testing import CliRunner

from nexus.cli.env_twins import NOT_SETTINGS
from nexus.cli.main import app
from nexus.cli.reference import _walk
from nexus.store.sqlite import SqliteStore
from tests.cli.entry import clean_env, run_nexus
from tests.factories import make_record


def options_of_every_command():
    root = typer.main.get_command(app)
    for path, command in _walk(root, ["nexus"]):
        for param in command.params:
            if param.param_type_name == "option" and param.name not in NOT_SETTINGS:
                yield path, param


def test_every_option_of_every_command_has_an_environment_variable():
    missing = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, param in options_of_every_command()
        if not param.envvar
    ]
    assert missing == []
    assert sum(1 for _ in options_of_every_command()) > 60  # the walk did reach every command


def test_help_shows_each_variable():
    seen: dict[tuple[str, ...], str] = {}
    for path, param in options_of_every_command():
        key = tuple(path[1:])
        if key not in seen:
            result = CliRunner().invoke(app, [*key, "--help"], env={"COLUMNS": "250"})
            seen[key] = result.output
        assert param.envvar in seen[key], f"{' '.join(path)} {param.opts[0]}: {param.envvar}"


def test_a_variable_sets_its_option_through_the_real_command(tmp_path):
    data = tmp_path / "data"
    data.mkdir()

    async def write() -> None:
        store = SqliteStore(data / "nexus.db")
        await store.open()
        await store.write_batch(
            [make_record(started_at_ms=1_790_000_000_000 + i) for i in range(3)]
        )
        await store.close()

    asyncio.run(write())
    env = clean_env(tmp_path, NEXUS_DATA_DIR=str(data), NEXUS_LOGS_LINES="2", NEXUS_JSON="1")
    result = run_nexus("logs", env=env)
    assert result.code == 0, result.stderr
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
