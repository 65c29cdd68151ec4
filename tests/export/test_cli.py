"""`nexus export` end to end on a SQLite file: stdout is the data, errors are one red line with the
right exit code, files appear only when complete."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nexus.cli.export import parse_time
from nexus.cli.main import app
from nexus.export import record_from_line
from nexus.store.sqlite import SqliteStore
from tests.export.builders import scenario, to_link, to_record


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("export-cli") / "nexus.db"

    async def seed() -> None:
        store = SqliteStore(path)
        await store.open()
        stored, _ = scenario()
        await store.write_batch([to_record(s) for s in stored])
        await store.write_links([to_link(s) for s in stored])
        await store.close()

    asyncio.run(seed())
    return f"sqlite:///{path}"


def _run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(app, ["export", *args], catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_default_is_every_request_as_jsonl_on_stdout(db_url: str) -> None:
    code, out, err = _run("--db", db_url)
    assert code == 0, err
    lines = out.splitlines(keepends=True)
    assert len(lines) == 12
    stored, _ = scenario()
    by_id = {s.summary.id: s for s in stored}
    for line in lines:
        back = record_from_line(line)
        assert back.request_body == by_id[back.summary.id].request_body
    assert err == ""  # no progress bar off a terminal, nothing but data on stdout


def test_database_url_comes_from_the_environment_twin(db_url: str) -> None:
    result = CliRunner().invoke(app, ["export", "--class", "title"], env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout_bytes.splitlines()) == 1


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "har"])
def test_each_format_writes_a_file_and_says_so(db_url: str, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"conv.{fmt}"
    code, out, err = _run("--db", db_url, "-f", fmt, "-c", "conv-1", "-o", str(target))
    assert code == 0, err
    assert out == b""
    assert target.stat().st_size > 1000
    assert not (tmp_path / f"conv.{fmt}.partial").exists()
    assert "exported to" in err


def test_filters_and_branch_narrow_the_jsonl(db_url: str) -> None:
    code, out, _ = _run("--db", db_url, "-c", "conv-1", "--branch", "branch-2")
    assert code == 0
    assert {orjson.loads(x)["links"]["branch"] for x in out.splitlines()} == {"branch-2"}
    code, out, _ = _run("--db", db_url, "--host", "elsewhere:3000")
    assert (code, out) == (0, b"")
    code, out, _ = _run("--db", db_url, "--until", "2000-01-01")
    assert (code, out) == (0, b"")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "markdown"], "--conversation"),
        (["-f", "pdf"], "unknown format"),
        (["--class", "chitchat"], "unknown class"),
        (["--since", "yesterday-ish"], "--since/--until"),
        (["--branch", "main"], "--branch needs --conversation"),
    ],
)
def test_usage_errors_exit_2_with_one_line(db_url: str, args: list[str], message: str) -> None:
    code, out, err = _run("--db", db_url, *args)
    assert code == 2
    assert out == b""
    _one_error(err, message)


def _one_error(err: str, message: str) -> None:
    # One red message (rich may wrap it to the 80 columns of a non-terminal), no traceback.
    assert message in " ".join(err.split())
    assert err.count("error:") == 1 and "Traceback" not in err


def test_an_unknown_conversation_exits_1_with_one_line(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "x.md"
    code, out, err = _run("--db", db_url, "-f", "markdown", "-c", "nope", "-o", str(target))
    assert code == 1
    _one_error(err, "conversation nope not found")
    assert not target.exists() and not (tmp_path / "x.md.partial").exists()


def test_an_unknown_branch_exits_1(db_url: str) -> None:
    code, _, err = _run("--db", db_url, "-f", "html", "-c", "conv-1", "--branch", "zzz")
    assert code == 1 and "branch-2, compact-1, main, task-1" in " ".join(err.split())


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    code, _, err = _run("--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 1 and "no Nexus database" in err
    assert not (tmp_path / "none.db").exists()


def test_times_parse_as_dates_ages_and_epoch_ms() -> None:
    now = 1_750_000_000_000
    assert parse_time("2h", now_ms=now) == now - 7_200_000
    assert parse_time("7d", now_ms=now) == now - 7 * 86_400_000
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time("2025-06-01T10:00Z") == 1_748_772_000_000
    assert parse_time("2025-06-01T12:00+02:00") == 1_748_772_000_000
    with pytest.raises(ValueError):
        parse_time("soon")
