"""Memory and speed of `nexus export --format jsonl` over a large SQLite store.

Seeds N records (default 50 000) with ``write_batch``, then exports them to a discarding sink and
reports: seed time, export time and rate, bytes written, resident-memory growth sampled every
5 000 records, and (with --tracemalloc) the peak of Python allocations during the export.

    .venv/bin/python benchmarks/export_memory.py [--records 50000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nexus.export import ExportFormat, ExportOptions, run_export  # noqa: E402
from nexus.store.sqlite import SqliteStore  # noqa: E402
from tests.factories import make_record  # noqa: E402

T0 = 1_700_000_000_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class Sampler:
    """A Progress that samples resident memory every ``every`` records."""

    def __init__(self, every: int = 5_000) -> None:
        self.every = every
        self.samples: list[int] = []

    def start(self, total: int | None) -> None:
        self.samples.append(rss_bytes())

    def advance(self, done: int) -> None:
        if done % self.every == 0:
            self.samples.append(rss_bytes())


async def seed(store: SqliteStore, n: int, batch: int = 2_000) -> None:
    for start in range(0, n, batch):
        await store.write_batch(
            [
                make_record(
                    started_at_ms=T0 + i, user_text=f"task {i}: " + "refactor the parser " * 10
                )
                for i in range(start, min(n, start + batch))
            ]
        )


async def measure(
    n: int, *, fmt: ExportFormat = ExportFormat.JSONL, trace: bool = False
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "nexus.db")
        await store.open()
        try:
            t = time.perf_counter()
            await seed(store, n)
            seed_s = time.perf_counter() - t
            written = 0

            def sink(chunk: bytes) -> None:
                nonlocal written
                written += len(chunk)

            sampler = Sampler()
            if trace:
                tracemalloc.start()
            t = time.perf_counter()
            count = await run_export(store, ExportOptions(fmt), sink, sampler)
            export_s = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
            if trace:
                tracemalloc.stop()
        finally:
            await store.close()
    first, samples = sampler.samples[0], sampler.samples
    return {
        "records": count,
        "seed_s": seed_s,
        "export_s": export_s,
        "records_per_s": count / export_s,
        "mb_written": written / 1e6,
        "rss_growth_mb": (max(samples) - first) / 1e6,
        "rss_growth_after_first_5k_mb": (
            max(samples[1:] or [first]) - (samples[1] if len(samples) > 1 else first)
        )
        / 1e6,
        "tracemalloc_peak_mb": peak / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "har"])
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        measure(args.records, fmt=ExportFormat(args.format), trace=args.tracemalloc)
    )
    for key, value in result.items():
        print(f"{key:32} {value:,.2f}")


if __name__ == "__main__":
    main()
