"""`nexus db rebuild-conversations` re-links a store that was never linked (or linked wrongly)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from typer.testing import CliRunner

from nexus.cli.main import app
from nexus.store.sqlite import SqliteStore
from tests.conversations.harness import tree
from tests.conversations.scenarios import SCENARIOS
from tests.conversations.traffic import Traffic


def test_rebuild_command_links_every_stored_request(tmp_path: Path) -> None:
    traffic = Traffic()
    expected = SCENARIOS["one_subagent"](traffic) | SCENARIOS["rewind_at_turn_3_both_continue"](
        traffic
    )

    async def seed() -> None:
        store = SqliteStore(tmp_path / "n.db")
        await store.open()
        await store.write_batch(traffic.records)  # recorded, never linked
        await store.close()

    asyncio.run(seed())
    result = CliRunner().invoke(
        app, ["db", "rebuild-conversations", "--db", f"sqlite:///{tmp_path / 'n.db'}", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["requests"] == len(traffic.records)
    assert report["conversations"] == 2

    async def read() -> dict[str, object]:
        store = SqliteStore(tmp_path / "n.db")
        await store.open()
        try:
            return await tree(store, traffic)
        finally:
            await store.close()

    assert asyncio.run(read()) == expected
