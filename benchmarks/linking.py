"""Link time per record against conversation length and store size (the conversation engine).

    .venv/bin/python benchmarks/linking.py                                  # SQLite, 0 and 20 000
    .venv/bin/python benchmarks/linking.py --store-sizes 0 100000 --turns 10 100 1000
    .venv/bin/python benchmarks/linking.py --backend postgres               # local Postgres

For each store size, the store is first filled with that many requests of other 10-turn Claude Code
sessions in the same scope (the worst case: every lookup searches the same key space), linked as the
writer links them. Then one conversation of N tool-loop turns is written and linked one record per
batch, as the live writer does, and each ``link_batch`` is timed. ``parse`` is the part spent
parsing and hashing the body (it grows with the body, which Claude Code resends whole every turn);
``index`` is the rest: lookups and writes in the store, which must stay flat as the store grows and
as the conversation gets longer. ``parse`` and ``index`` are process CPU time (SQLite runs in the
process), so a busy machine does not blur them; p50/p95 are wall time. Bodies are in Claude Code's
shape (tests/conversations/traffic.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nexus.conversations.view import RequestView, prepare  # noqa: E402
from nexus.conversations.worker import (
    ConversationLinker,  # noqa: E402
    summary_of,  # noqa: E402
)
from nexus.records import RequestRecord  # noqa: E402
from tests.conversations.traffic import Traffic  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
FILL_BATCH = 500


def filler(count: int) -> list[RequestRecord]:
    traffic = Traffic(session_salt=1)
    while len(traffic.records) < count:
        agent = traffic.session().agent(f"task {len(traffic.records)}: fix the flaky test")
        for turn in range(min(10, count - len(traffic.records))):
            agent.send(
                f"f{len(traffic.records)}", tools=[("Bash", {"command": f"pytest -k t{turn}"})]
            )
            agent.results(f"test t{turn} failed: assertion error in line {turn}\n" * 3)
    return traffic.records


def conversation(turns: int, salt: int) -> list[RequestRecord]:
    """A new session after everything already stored (its own session id and start time)."""
    traffic = Traffic(clock_ms=1_800_000_000_000 + salt * 10_000_000, session_salt=100 + salt)
    agent = traffic.session().agent("refactor the storage layer and keep the tests green")
    for turn in range(turns):
        agent.send(f"c{turn}", text=f"Step {turn}: reading the next file.",
                   tools=[("Read", {"file_path": f"/repo/src/module_{turn}.py"})])  # fmt: skip
        agent.results(f"# module {turn}\n" + "def f(x):\n    return x * 2\n" * 8)
    return traffic.records


async def open_store(backend: str, tmp: Path) -> tuple[Any, Any]:
    if backend == "sqlite":
        from nexus.store.sqlite import SqliteStore

        store = SqliteStore(tmp / f"bench-{uuid.uuid4().hex[:6]}.db")
        await store.open()
        return store, None
    import asyncpg

    from nexus.store.postgres import PostgresStore

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    store = PostgresStore(PG_URL, schema=schema)
    await store.open()
    return store, schema


async def drop(store: Any, schema: str | None) -> None:
    await store.close()
    if schema:
        import asyncpg

        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def fill(store: Any, records: list[RequestRecord]) -> None:
    linker = ConversationLinker(store)
    for start in range(0, len(records), FILL_BATCH):
        chunk = records[start : start + FILL_BATCH]
        await store.write_batch(chunk)
        await linker.link_batch(chunk)


async def measure(store: Any, records: list[RequestRecord]) -> dict[str, float]:
    # The generated traffic is a large heap of its own: keep the collector from walking it, so the
    # figures are linking's cost and not the benchmark's.
    gc.collect()
    gc.freeze()
    linker = ConversationLinker(store)
    totals, parses, cpus = [], [], []
    for record in records:
        await store.write_batch([record])
        view = RequestView.from_record(record, summary_of(record))
        t0 = time.process_time()
        prepare(view)
        parses.append(time.process_time() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        await linker.link_batch([record])
        totals.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    # CPU time of this process (the SQLite work runs in its threads): what linking costs, without
    # the waiting a busy machine adds to wall time. On Postgres the server's share is not in it.
    index = [c - p for c, p in zip(cpus, parses, strict=True)]
    tail = max(1, len(records) // 10)
    ms = 1000.0
    return {
        "total_p50": statistics.median(totals) * ms,
        "total_p95": sorted(totals)[int(len(totals) * 0.95) - 1 if len(totals) > 1 else 0] * ms,
        "parse_mean": statistics.fmean(parses) * ms,
        "index_mean": statistics.fmean(index) * ms,
        "index_first10pct": statistics.fmean(index[:tail]) * ms,
        "index_last10pct": statistics.fmean(index[-tail:]) * ms,
        "body_kb_last": len(records[-1].exchange.request_body) / 1024,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--store-sizes", type=int, nargs="+", default=[0, 20_000])
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    print(f"backend {args.backend}; times in ms per record (link_batch of one record)")
    print(f"{'store':>8} {'turns':>6} {'body KB':>8} {'p50':>7} {'p95':>7} {'parse':>7} "
          f"{'index':>7} {'index@first10%':>15} {'index@last10%':>14}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.store_sizes:
            store, schema = await open_store(args.backend, Path(tmp))
            try:
                await fill(store, filler(size))
                for turns in args.turns:
                    records = conversation(turns, salt=turns)
                    r = await measure(store, records)
                    del records
                    gc.unfreeze()
                    print(f"{size:>8} {turns:>6} {r['body_kb_last']:>8.0f} {r['total_p50']:>7.2f} "
                          f"{r['total_p95']:>7.2f} {r['parse_mean']:>7.2f} {r['index_mean']:>7.2f} "
                          f"{r['index_first10pct']:>15.2f} {r['index_last10pct']:>14.2f}",
                          flush=True)  # fmt: skip
            finally:
                await drop(store, schema)


if __name__ == "__main__":
    asyncio.run(main())
