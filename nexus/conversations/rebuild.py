"""``nexus db rebuild-conversations``: forget every link and re-link every stored request in
canonical order (start time, then id), exactly as live linking would have placed them had the
records arrived in that order; live linking repairs itself to the same result (``worker.py``).

Only links that change are written (by the linker, as live), so a rebuild of an up-to-date store
adds no ``link`` events. Safe beside running servers on Postgres: each batch runs under the linkers'
row lock (``link_generation``), and a live record linked meanwhile is re-linked by whichever pass
sees it last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nexus.conversations.worker import ConversationLinker, LinkingStore
from nexus.records import RequestFilter

ProgressFn = Callable[[int, int], None]  # (requests done, requests in all)


class RebuildStore(LinkingStore, Protocol):
    async def count_requests(self, flt: RequestFilter) -> int: ...


async def rebuild_conversations(
    store: RebuildStore, *, batch_size: int = 200, on_progress: ProgressFn | None = None
) -> int:
    """Re-link every stored request; returns how many were linked."""
    total = await store.count_requests(RequestFilter())
    await store.clear_link_index()
    linker = ConversationLinker(store)
    done = 0
    after = None
    while positions := await store.linking_positions(after, batch_size):
        stored = [s for s in [await store.get_request(i) for _, i in positions] if s is not None]
        await linker.link_stored(stored)
        done += len(positions)
        after = positions[-1]
        if on_progress is not None:
            on_progress(done, max(total, done))
    return done
