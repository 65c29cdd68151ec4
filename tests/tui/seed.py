"""Seeding a real ``nexus serve`` for the TUI tests: Claude Code-like conversations written to its
store and linked by its own linker (as its writer does), so the API serves real trees."""

from __future__ import annotations

from typing import Any

from nexus.records import RequestRecord, Usage
from tests.factories import turn

T0 = 1_770_000_000_000


def conversation(index: int, turns: int, start_ms: int, account: str) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    previous = None
    for n in range(turns):
        usage = Usage(input_tokens=10 + n, output_tokens=100 + n, cache_read_input_tokens=1000 * n)
        previous = turn(
            previous,
            f"conversation {index} turn {n}: fix the migration"
            if n % 2
            else f"step {n} of {index}",
            start_ms + n * 20_000,
            session_id=f"session-{index}",
            account_id=account,
            usage=usage,
            status=529 if (index + n) % 5 == 4 else 200,
        )
        records.append(previous)
    return records


async def seed(server: Any, conversations: int = 4, turns: int = 6) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    for c in range(conversations):
        records += conversation(c, turns, T0 + c * 5_000, ("team-a", "team-b")[c % 2])
    records.sort(key=lambda r: r.exchange.started_at_ms)
    await server.store.write_batch(records)
    from nexus.conversations.worker import ConversationLinker

    await ConversationLinker(server.store).link_batch(records)
    return records
