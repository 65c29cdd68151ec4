"""A bad command line reads like every other error: one ``error: …`` line on stderr naming the
option and the value, exit code 2 (not typer's boxed panel with a usage line above it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.entry import clean_env, run_nexus


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["logs", "-n", "abc"], "'abc'"),  # a value of the wrong type
        (["logs", "--bogus"], "no such option: --bogus"),
        (["--bogus"], "no such option: --bogus"),  # the root's own options
        (["usage", "--by", "nope"], "'nope'"),  # inside a group
        (["tui", "--branch", "main"], "a branch needs the conversation"),  # a command's own check
    ],
)
def test_a_bad_option_is_one_error_line(tmp_path: Path, args: list[str], says: str) -> None:
    result = run_nexus(*args, env=clean_env(tmp_path))
    assert result.code == 2
    assert len(result.error_lines) == 1, result.stderr
    (line,) = result.error_lines
    assert line.startswith("error: ") and says in line
    assert line.endswith("-h)")  # where to read more
    assert result.stdout == ""


def test_a_group_without_a_command_still_prints_its_help(tmp_path: Path) -> None:
    result = run_nexus("db", env=clean_env(tmp_path))
    assert "Usage: nexus db" in result.stdout + result.stderr
    assert "error:" not in result.stderr
