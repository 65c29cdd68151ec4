"""Seed a store with N Claude Code-like records, then time `nexus usage` against it.

    .venv/bin/python benchmarks/usage.py --db sqlite:////tmp/usage-bench.db --records 100000
    .venv/bin/python benchmarks/usage.py --db postgresql://postgres@127.0.0.1:5432/usage_bench

Records span ten days: two subscription accounts whose responses carry unified 5h/7d headers that
rise and reset, one API-key account with per-minute limits, pass-through traffic without headers,
200 sessions, four models (one unknown to the price book) and ~3 % errors. Bodies are small:
this measures the usage queries, not content storage. Prints the seeding time, the in-process
query times, and the wall time of the real command (``nexus usage --json``, a fresh process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from typing import Any

import orjson

from nexus.records import Exchange, Outcome, RequestRecord, Usage, new_id
from nexus.usage.cost import make_cost_function

MODELS = ("claude-opus-4-8", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "local-x")
H = 3_600_000


def make_records(n: int, now_ms: int, seed: int = 7) -> list[RequestRecord]:
    rnd = random.Random(seed)
    cost = make_cost_function(None)
    start = now_ms - 10 * 24 * H
    step = (now_ms - start) // n
    util = {"team-a": 0.0, "team-b": 0.0}
    window_end = {"team-a": start + 5 * H, "team-b": start + 5 * H}
    records = []
    for i in range(n):
        at = start + i * step + rnd.randrange(step or 1)
        kind = rnd.random()
        account: str | None
        if kind < 0.45:
            account = "team-a"
        elif kind < 0.8:
            account = "team-b"
        elif kind < 0.93:
            account = "api-key"
        else:
            account = None
        model = MODELS[rnd.choices(range(4), weights=(5, 3, 2, 0.2))[0]]
        status = 200 if rnd.random() > 0.03 else rnd.choice((429, 500, 529))
        usage = (
            Usage(
                input_tokens=rnd.randrange(1, 50),
                output_tokens=rnd.randrange(10, 3000),
                cache_creation_input_tokens=(cw := rnd.randrange(0, 20_000)),
                cache_creation_5m_tokens=cw,
                cache_read_input_tokens=rnd.randrange(0, 150_000),
            )
            if status == 200
            else Usage()
        )
        ratelimit: tuple[tuple[str, str], ...] = ()
        if account in util:
            if at >= window_end[account]:
                window_end[account] = at + 5 * H
                util[account] = 0.0
            util[account] = min(1.0, util[account] + rnd.random() * 0.01)
            ratelimit = (
                ("anthropic-ratelimit-unified-status", "allowed"),
                ("anthropic-ratelimit-unified-5h-status", "allowed"),
                ("anthropic-ratelimit-unified-5h-utilization", f"{util[account]:.4f}"),
                ("anthropic-ratelimit-unified-5h-reset", str(window_end[account] // 1000)),
                ("anthropic-ratelimit-unified-7d-status", "allowed"),
                ("anthropic-ratelimit-unified-7d-utilization", f"{min(1.0, i / n):.4f}"),
                ("anthropic-ratelimit-unified-7d-reset", str((now_ms + 2 * 24 * H) // 1000)),
                ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
            )
        elif account == "api-key":
            ratelimit = (
                ("anthropic-ratelimit-requests-limit", "4000"),
                ("anthropic-ratelimit-requests-remaining", str(rnd.randrange(3900, 4000))),
                ("anthropic-ratelimit-requests-reset", "2025-11-24T10:00:05Z"),
            )
        rid = new_id(at)
        exchange = Exchange(
            id=rid,
            started_at_ms=at,
            ended_at_ms=at + 2000,
            first_byte_at_ms=at + 400,
            method="POST",
            path="/v1/messages",
            query="beta=true",
            host="localhost:3000" if account else "api.example:8080",
            request_headers=(("anthropic-version", "2023-06-01"),),
            request_body=orjson.dumps(
                {
                    "model": model,
                    "messages": [{"role": "user", "content": f"task {i % 997}"}],
                    "stream": True,
                }
            ),
            status=status,
            response_headers=(("content-type", "application/json"), *ratelimit),
            response_body=b'{"type":"message"}',
            outcome=Outcome.COMPLETE,
            account_id=account if account != "api-key" else "api-key",
            client_key_id=f"key-{rnd.randrange(12)}" if account else None,
        )
        records.append(
            RequestRecord(
                exchange=exchange,
                model=model,
                is_streaming=True,
                session_id=f"session-{rnd.randrange(200):03d}",
                usage=usage,
                ratelimit=ratelimit,
                cost_usd_micros=cost(model, usage, at),
                user_preview=f"task {i % 997}",
                message_count=1,
            )
        )
    return records


async def seed(db: str, n: int, now_ms: int) -> float:
    from nexus.settings import Settings
    from nexus.store import open_store

    store: Any = await open_store(Settings(database_url=db))
    try:
        started = time.perf_counter()
        records = make_records(n, now_ms)
        for i in range(0, n, 2000):
            await store.write_batch(records[i : i + 2000])
        return time.perf_counter() - started
    finally:
        await store.close()


async def time_queries(db: str, now_ms: int) -> dict[str, float]:
    from nexus.cli.usage import local_report
    from nexus.settings import Settings
    from nexus.store import open_store

    store: Any = await open_store(Settings(database_url=db))
    timings = {}
    try:
        for by in ("account", "model", "session", "day", "host"):
            started = time.perf_counter()
            await local_report(store, {"by": by}, now_ms)
            timings[f"by {by}"] = time.perf_counter() - started
    finally:
        await store.close()
    return timings


def time_command(db: str) -> float:
    env = {**os.environ, "DATABASE_URL": db}
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nexus", "usage", "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-seed", action="store_true", help="time an already seeded store")
    args = parser.parse_args()
    now = int(time.time() * 1000)
    if not args.no_seed:
        seconds = asyncio.run(seed(args.db, args.records, now))
        print(f"seeded {args.records:,} records in {seconds:.1f} s")
    for name, seconds in asyncio.run(time_queries(args.db, now)).items():
        print(f"in-process report {name:<12} {seconds * 1000:7.1f} ms")
    print(
        f"`nexus usage --json` wall time (best of 3, fresh process): {time_command(args.db):.2f} s"
    )


if __name__ == "__main__":
    main()
