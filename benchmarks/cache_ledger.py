"""Seed a store with N requests and their cache ledger, then time `nexus cache` against it.

    .venv/bin/python benchmarks/cache_ledger.py --db sqlite:////tmp/cache-bench.db --records 100000
    .venv/bin/python benchmarks/cache_ledger.py --db postgresql://postgres@127.0.0.1:5432/cache_bench

The requests are ``benchmarks/usage.py``'s (ten days, three accounts and pass-through, 200 sessions,
four models); one in ``--break-every`` of them (default 40: 2.5 %, a heavy share) gets a ledger
row with a cause, a detail line and a priced excess, written as the recorder writes them. Prints
the in-process report time per ``--by`` and the wall time of the real command (``nexus cache``,
table and ``--json``, a fresh process, best of 3; the target is under a second). Wall times move
with the machine's load; each line also gives the CPU time the work took (in-process:
``time.process_time``; the command: its user + system time, interpreter start-up included), which
barely does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.usage import make_records  # noqa: E402
from nexus.cache.price import excess_cost_usd_micros  # noqa: E402
from nexus.records import CACHE_GROUPS, CacheCause, RequestFilter  # noqa: E402
from nexus.store.base import LedgerRow  # noqa: E402

DETAILS = {
    CacheCause.TTL_EXPIRED: "idle 7 min 3 s after the previous request (cache lifetime 5 min)",
    CacheCause.SYSTEM_CHANGED: 'system block 3 of 3 changed: "…CLAUDE.md: a" → "…CLAUDE.md: b"',
    CacheCause.TOOLS_CHANGED: "tools added mcp__db__query",
    CacheCause.HISTORY_EDITED: "message 12 (user) edited: a <system-reminder> injected",
    CacheCause.NONE_VISIBLE: "the prefix was identical to the previous request's and the server "
    "still missed",
}


async def seed(db: str, n: int, now_ms: int, break_every: int) -> tuple[float, int]:
    from nexus.settings import Settings
    from nexus.store import open_store

    rnd = random.Random(11)
    store: Any = await open_store(Settings(database_url=db))
    try:
        started = time.perf_counter()
        records = make_records(n, now_ms)
        breaks = 0
        for i in range(0, n, 2000):
            batch = records[i : i + 2000]
            await store.write_batch(batch)
            rows = []
            for record in batch[::break_every]:
                if record.exchange.status != 200:
                    continue
                cause = rnd.choice(list(DETAILS))
                missed = rnd.randrange(5_000, 200_000)
                rows.append(LedgerRow(
                    record.id, "predecessor-" + record.id, record.exchange.started_at_ms,
                    str(cause), DETAILS[cause], missed + 1_000, 1_000, missed,
                    excess_cost_usd_micros(record.model, record.usage, missed,
                                           record.exchange.started_at_ms),
                ))  # fmt: skip
            await store.write_cache_ledger((), rows, announce=False)
            breaks += len(rows)
        return time.perf_counter() - started, breaks
    finally:
        await store.close()


async def time_reports(db: str) -> dict[str, tuple[float, float]]:
    from nexus.cache.report import cache_report_json
    from nexus.settings import Settings
    from nexus.store import open_store

    store: Any = await open_store(Settings(database_url=db))
    timings = {}
    try:
        for by in CACHE_GROUPS:
            best = (float("inf"), float("inf"))
            for _ in range(3):
                started, cpu = time.perf_counter(), time.process_time()
                await cache_report_json(store, RequestFilter(), by, limit=20)
                took = (time.perf_counter() - started, time.process_time() - cpu)
                best = min(best, took)
            timings[by] = best
    finally:
        await store.close()
    return timings


def time_command(db: str, *args: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the best of three runs of ``nexus cache ARGS``."""
    env = {**os.environ, "DATABASE_URL": db, "COLUMNS": "80"}
    return min(_run(["cache", "--since", "30d", *args], env) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--break-every", type=int, default=40)
    parser.add_argument("--no-seed", action="store_true", help="time an already seeded store")
    args = parser.parse_args()
    now = int(time.time() * 1000)
    if not args.no_seed:
        seconds, breaks = asyncio.run(seed(args.db, args.records, now, args.break_every))
        print(f"seeded {args.records:,} requests and {breaks:,} breaks in {seconds:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for by, (wall, cpu) in asyncio.run(time_reports(args.db)).items():
        print(f"in-process report --by {by:<8} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU")
    for extra in ((), ("--by", "session"), ("--json",)):
        label = " ".join(("nexus cache", *extra))
        wall, cpu = time_command(args.db, *extra)
        print(f"`{label}` fresh process, best of 3: {wall:.2f} s wall, {cpu:.2f} s CPU")
    wall, cpu = _run(["--help"])
    print(f"(`nexus --help` alone, the start-up: {wall:.2f} s wall, {cpu:.2f} s CPU)")


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``python -m nexus ARGS`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nexus", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


if __name__ == "__main__":
    main()
