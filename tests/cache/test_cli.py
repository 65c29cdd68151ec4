"""`nexus cache` and `nexus db rebuild-cache-ledger` on a seeded SQLite store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from typer.testing import CliRunner

from nexus.cli.main import app
from nexus.conversations.worker import ConversationLinker
from tests.cache.conversation import Chat


def seed(path: Path, *, ledger: bool) -> Chat:
    """A conversation whose third request came back after 10 idle minutes (a TTL break) and whose
    fourth changed model; linked as ``nexus serve`` links, ledgered only when ``ledger``."""
    from nexus.cache.ledger import CacheLedger
    from nexus.store.sqlite import SqliteStore

    chat = Chat(start_ms=int(time.time() * 1000) - 3_600_000)
    chat.send("first", read=0, write=10_000)
    chat.send("second", read=10_000, write=500)
    chat.send("third", read=0, write=11_000, gap_ms=10 * 60_000)
    chat.send("fourth", read=0, write=11_500, model="claude-sonnet-4-6")

    async def write() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            linker, cache = ConversationLinker(store), CacheLedger(store)
            for record in chat.records:
                await store.write_batch([record])
                links = await linker.link_batch([record])
                if ledger:
                    await cache.after_linking([record], links)
        finally:
            await store.close()

    asyncio.run(write())
    return chat


def nexus(tmp_path: Path, *args: str) -> tuple[int, str]:
    db = f"sqlite:///{tmp_path / 'nexus.db'}"
    result = CliRunner().invoke(app, [*args, "--db", db], env={"COLUMNS": "80"})
    return result.exit_code, result.output


def test_the_ledger_table_names_each_break_its_cause_and_cost_in_80_columns(tmp_path: Path) -> None:
    chat = seed(tmp_path / "nexus.db", ledger=True)
    code, output = nexus(tmp_path, "cache", "--utc")
    assert code == 0, output
    assert max(len(line) for line in output.splitlines()) <= 80, output
    assert "4 requests" in output and "2 breaks" in output
    assert "TTL expired" in output and "model changed" in output
    ttl_cost, model_cost = 10_500 * 5.75 / 1e6, 11_000 * (3.75 - 0.3) / 1e6
    # Dollars as nexus.numbers writes them everywhere: under a dollar, to a hundredth of a cent.
    assert f"${ttl_cost + model_cost:.4f} lost" in output
    for record in chat.records[2:]:
        [line] = [li for li in output.splitlines() if record.id in li]
        assert line.endswith(f"${(ttl_cost if record is chat.records[2] else model_cost):.4f}")
    assert "idle 10m00s" in output  # durations as nexus.numbers writes them


def test_json_and_grouping_by_session(tmp_path: Path) -> None:
    chat = seed(tmp_path / "nexus.db", ledger=True)
    code, output = nexus(tmp_path, "cache", "--by", "session", "--json")
    assert code == 0, output
    data = orjson.loads(output)
    [group] = data["groups"]
    assert group["group"] == chat.session and group["breaks"] == 2
    assert group["requests"] == 4
    assert group["efficiency"] == 10_000 / (10_000 + 10_000 + 500 + 11_000 + 11_500)
    assert [b["request_id"] for b in data["breaks"]] == [chat.records[3].id, chat.records[2].id]
    assert data["breaks"][0]["cause"] == "model_changed"


def test_rebuild_fills_a_store_recorded_before_the_ledger(tmp_path: Path) -> None:
    chat = seed(tmp_path / "nexus.db", ledger=False)
    code, output = nexus(tmp_path, "cache", "--json")
    assert orjson.loads(output)["totals"]["breaks"] == 0
    code, output = nexus(tmp_path, "db", "rebuild-cache-ledger")
    assert code == 0, output
    assert "4 requests checked, 2 cache breaks found" in output
    code, output = nexus(tmp_path, "cache", "--json")
    causes = {b["request_id"]: b["cause"] for b in orjson.loads(output)["breaks"]}
    assert causes == {chat.records[2].id: "ttl_expired", chat.records[3].id: "model_changed"}


def test_bad_group_is_a_usage_error(tmp_path: Path) -> None:
    seed(tmp_path / "nexus.db", ledger=True)
    code, output = nexus(tmp_path, "cache", "--by", "colour")
    assert code == 2
    assert "colour" in output and "--by" in output


def test_an_empty_period_says_so_rather_than_praising_the_cache(tmp_path: Path) -> None:
    code, output = nexus(tmp_path, "cache")
    assert code == 0, output
    assert "No requests recorded in this period" in output
    assert "No cache breaks" not in output
