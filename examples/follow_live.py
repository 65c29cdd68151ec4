"""Read Nexus's API with the typed client: the latest calls, then every new call as it is recorded.

    python examples/follow_live.py             # until Ctrl-C
    python examples/follow_live.py --count 3   # stop after three new calls

``NexusClient.events()`` follows ``GET /api/events`` (server-sent events) and reconnects on its own
after a restart of the server, resuming after the last event it saw, so no call is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from nexus import numbers
from nexus.client import NexusClient
from nexus.records import RequestSummary

API = os.environ.get("NEXUS_API_URL", "http://127.0.0.1:3001")


def line(s: RequestSummary) -> str:
    return (
        f"{s.id[:12]}  {s.model or s.path:<22} {s.status or '—':>3}  "
        f"{numbers.tokens(s.usage.total_tokens):>6} tok  {numbers.cost(s.cost_usd_micros):>8}  "
        f"{s.user_preview[:40]!r}"
    )


async def main(latest: int, count: int | None) -> None:
    async with NexusClient(API, os.environ.get("DASHBOARD_API_KEY")) as nexus:
        page = await nexus.list_requests(limit=latest)
        print(f"latest {len(page.items)} calls:")
        for summary in reversed(page.items):
            print(" ", line(summary))
        print("following new calls…", flush=True)
        seen = 0
        async for event in nexus.events():
            if event.kind == "request" and event.summary is not None:
                print("+", line(event.summary), flush=True)
                seen += 1
                if count is not None and seen >= count:
                    return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latest", type=int, default=10, help="how many past calls to list")
    parser.add_argument("--count", type=int, help="stop after this many new calls")
    args = parser.parse_args()
    asyncio.run(main(args.latest, args.count))
