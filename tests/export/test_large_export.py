"""A 50 000-record store exports as jsonl with flat memory: nothing grows with the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus.export import ExportOptions, run_export
from nexus.store.sqlite import SqliteStore
from tests.factories import make_record

RECORDS = 50_000
T0 = 1_700_000_000_000


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class _Sampler:
    def __init__(self) -> None:
        self.samples: list[int] = []

    def start(self, total: int | None) -> None:
        self.total = total
        self.samples.append(_rss())

    def advance(self, done: int) -> None:
        if done % 5_000 == 0:
            self.samples.append(_rss())


@pytest.mark.slow
async def test_fifty_thousand_records_export_with_flat_memory(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nexus.db")
    await store.open()
    try:
        for start in range(0, RECORDS, 2_500):
            await store.write_batch(
                [
                    make_record(
                        started_at_ms=T0 + i, user_text=f"task {i}: " + "edit the parser " * 8
                    )
                    for i in range(start, start + 2_500)
                ]
            )
        lines = 0
        ids: set[bytes] = set()

        def sink(chunk: bytes) -> None:
            nonlocal lines
            lines += chunk.count(b"\n")
            if len(ids) < 10:
                ids.add(chunk[:80])

        sampler = _Sampler()
        count = await run_export(store, ExportOptions(), sink, sampler)
    finally:
        await store.close()
    assert count == lines == RECORDS
    assert sampler.total == RECORDS
    mb = [(s - sampler.samples[0]) / 1e6 for s in sampler.samples]
    # Resident memory: a few MB of warm-up (first page, caches), then nothing per record.
    assert max(mb) < 24, mb
    assert max(mb[1:]) - mb[1] < 4, mb
