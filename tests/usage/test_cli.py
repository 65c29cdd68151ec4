from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nexus.cli.main import app
from nexus.cli.usage import parse_time
from nexus.records import Usage, now_ms
from tests.factories import make_record

T0 = now_ms() - 3_600_000  # windows look at the last days


@pytest.fixture
def db(tmp_path: Path) -> str:
    from nexus.store.sqlite import SqliteStore

    async def seed() -> None:
        store = SqliteStore(tmp_path / "n.db")
        await store.open()
        await store.write_batch(
            [
                make_record(
                    started_at_ms=T0,
                    account_id="team",
                    model="claude-opus-4-8",
                    usage=Usage(input_tokens=1000),
                    cost_usd_micros=None,
                    ratelimit=(("anthropic-ratelimit-unified-5h-utilization", "0.5"),),
                ),
                make_record(
                    started_at_ms=T0 + 1,
                    account_id="team",
                    model="mystery",
                    usage=Usage(input_tokens=5),
                    cost_usd_micros=None,
                ),
            ]
        )
        await store.close()

    asyncio.run(seed())
    return f"sqlite:///{tmp_path / 'n.db'}"


def test_usage_json_reports_groups_and_windows(db: str) -> None:
    result = CliRunner().invoke(app, ["usage", "--db", db, "--by", "model", "--json"])
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert {r["group"]["model"] for r in body["usage"]["rows"]} == {"claude-opus-4-8", "mystery"}
    assert body["windows"]["accounts"][0]["account"] == "team"


def test_recost_prices_history_then_the_table_shows_it(db: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["usage", "recost", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["changed"] == 1  # opus priced; mystery stays unpriced
    table = runner.invoke(app, ["usage", "--db", db, "--by", "model"], env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "$0.0050" in table.stdout  # 1000 input tokens of opus 4.8 at $5/MTok
    assert "* 1 request unpriced" in table.stdout  # one call: not "1 requests" (seen in a trial)


def test_bad_group_is_a_usage_error(db: str) -> None:
    result = CliRunner().invoke(app, ["usage", "--db", db, "--by", "planet"])
    assert result.exit_code == 2


def test_times_are_ages_iso_or_epoch_ms() -> None:
    assert parse_time("2h", 10_000_000) == 10_000_000 - 7_200_000
    assert parse_time("1764000000000", 0) == 1_764_000_000_000
    assert parse_time("2025-11-24T16:00:00Z", 0) == 1_764_000_000_000
    with pytest.raises(ValueError):
        parse_time("yesterday", 0)


def test_at_80_columns_the_table_keeps_output_and_cost_and_says_what_it_left_out(
    tmp_path: Path,
) -> None:
    from nexus.store.sqlite import SqliteStore
    from tests.cli.entry import clean_env, run_nexus

    async def seed() -> None:
        store = SqliteStore(tmp_path / "data" / "nexus.db")
        await store.open()
        usage = Usage(12_345_678, 1_234_567, 2_345_678, 98_765_432, 345_678)
        record = make_record(account_id="acct_0123456789abcdef", usage=usage)
        await store.write_batch([record])
        await store.close()

    (tmp_path / "data").mkdir()
    asyncio.run(seed())
    env = clean_env(tmp_path, COLUMNS="80", NEXUS_DATA_DIR=str(tmp_path / "data"))
    result = run_nexus("usage", "--by", "account,model", env=env)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "Account" in line)
    assert "Output" in header and "Cost" in header and "Write 1h" not in header
    assert "$0.00" in result.stdout  # the factory's 1234 micro-dollars
    assert "left out to fit the terminal: Write 1h" in result.stdout
    windows = next(line for line in lines if "Window" in line and "Account" in line)
    assert "Resets in" in windows  # the windows table too gives up its least useful column first
    assert "left out to fit the terminal: Source" in result.stdout
