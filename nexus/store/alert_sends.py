"""Alert deduplication across processes (migration 0010): one row per deduplication key with when
it was last sent. ``claim_alert`` is the only operation: it says whether this process may send an
alert now, so replicas on one Postgres (and the proxy and recorder processes) send it once per
cool-down. Called by the alert sender beside the traffic, never by the proxy's hot path.
"""

from __future__ import annotations

from nexus.store.connector import Area

KEEP_MS = 8 * 86_400_000  # longer than the longest cool-down alerts.json allows (7 days)


class AlertSends(Area):
    async def claim_alert(self, dedup_key: str, now_ms: int, cooldown_ms: int) -> bool:
        """True when no process sent ``dedup_key`` within ``cooldown_ms`` before ``now_ms`` (and
        records this send); False when one did."""
        async with self.db.transaction() as tx:
            await tx.execute(self.q["alert_sends_prune"], {"before_ms": now_ms - KEEP_MS})
            row = await tx.fetchone(
                self.q["alert_claim"],
                {"dedup_key": dedup_key, "now_ms": now_ms, "stale_before_ms": now_ms - cooldown_ms},
            )
        return row is not None
