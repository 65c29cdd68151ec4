"""Adds stored calls to the limit counters (``nexus.limits.tally``), right after each batch is
written, and prunes old counter rows now and then. A failure loses those calls' counts toward
limits (logged), never their records."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from nexus.errors import StoreUnavailable
from nexus.limits.tally import tally
from nexus.records import RequestRecord, now_ms

log = logging.getLogger("nexus.recorder")


class Counting:
    PRUNE_EVERY_S = 600.0

    def __init__(self, store: Any, replica: str) -> None:
        self.store = store
        self.replica = replica
        self._pruned_at: float | None = None

    async def __call__(self, records: Sequence[RequestRecord]) -> None:
        rows = tally(records, self.replica)
        try:
            await self.store.add_to_counters(rows)
            now = asyncio.get_running_loop().time()
            if self._pruned_at is None or now - self._pruned_at >= self.PRUNE_EVERY_S:
                self._pruned_at = now
                await self.store.prune_counters(now_ms())
        except StoreUnavailable as exc:
            log.warning("%d calls not counted toward limits: %s", len(records), exc)
