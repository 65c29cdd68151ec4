"""Time the /mcp tools over a store of 100 000 Claude Code-like requests (issue 21: < 200 ms).

    .venv/bin/python benchmarks/mcp_tools.py --backend sqlite --db /tmp/mcp-bench.db --keep
    .venv/bin/python benchmarks/mcp_tools.py --backend postgres

Seeds the store exactly as ``api.py`` does (same conversations, vocabulary and linker; a database
kept by either benchmark is reused), then calls each tool the way ``/mcp`` does (``nexus.mcp.Tools``
with a pass-through caller, which sees every host: the widest query; "now" just after the newest
seeded request, so windows, today and ``since`` see data) and reports p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import api as seeded  # noqa: E402

from nexus.mcp import Caller, Tools  # noqa: E402

TARGET_MS = 200.0


async def measure(store: Any, samples: int) -> dict[str, tuple[float, float]]:
    rnd = random.Random(7)
    newest = (await store._fetchone("SELECT max(started_at_ms) FROM requests"))[0]
    tools = Tools(store, clock=lambda: newest + 60_000)  # "now" is just after the seeded data
    caller = Caller()  # pass-through: every host and account
    team = Caller(host="localhost:3000", account_id="team-a")  # one team host's account
    convs = [
        row[0]
        for row in await store._fetchall(
            "SELECT DISTINCT conversation_id FROM links WHERE conversation_id IS NOT NULL"
        )
    ]
    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "search common word": lambda: tools.search_conversations(caller, "build"),
        "search rare word": lambda: tools.search_conversations(caller, rnd.choice(seeded.RARE)),
        "search two words, 25": lambda: tools.search_conversations(
            caller, f"please {rnd.choice(seeded.RARE)}", limit=25
        ),
        "search since 7d": lambda: tools.search_conversations(caller, "fix test", since="7d"),
        "search since 1h": lambda: tools.search_conversations(caller, "build", since="1h"),
        "get_conversation": lambda: tools.get_conversation(caller, rnd.choice(convs)),
        "usage_now (all accounts)": lambda: tools.usage_now(caller),
        "usage_now (one account)": lambda: tools.usage_now(team),
        "search (one account)": lambda: tools.search_conversations(team, "build"),
    }
    results = {}
    for name, call in cases.items():
        await call()  # warm
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            await call()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        results[name] = (statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)])
    return results


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    store, count, cleanup = await seeded.seeded_bench_store(backend, args)
    try:
        results = await measure(store, args.samples)
        print(f"\n{backend}: {count:,} requests, {args.samples} calls per tool (ms)")
        print(f"  {'tool':24} {'p50':>7} {'p99':>7}")
        for name, (p50, p99) in results.items():
            flag = "" if p99 < TARGET_MS else f"  ← over {TARGET_MS:.0f} ms"
            print(f"  {name:24} {p50:7.1f} {p99:7.1f}{flag}")
    finally:
        await store.close()
        await cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    seeded.add_store_arguments(parser, samples=50)
    args = parser.parse_args()
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        asyncio.run(run_backend(backend, args))


if __name__ == "__main__":
    main()
