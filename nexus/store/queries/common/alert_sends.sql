-- Alert deduplication across processes (nexus/store/alert_sends.py, migration 0010).

-- name: alert_claim
-- A new key, or one last sent before the cool-down began, is claimed (a row comes back); a key
-- sent within the cool-down is left as it is (no row).
INSERT INTO alert_sends (dedup_key, sent_at_ms) VALUES (:dedup_key, :now_ms)
ON CONFLICT (dedup_key) DO UPDATE SET sent_at_ms = excluded.sent_at_ms
WHERE alert_sends.sent_at_ms <= :stale_before_ms
RETURNING dedup_key

-- name: alert_sends_prune
DELETE FROM alert_sends WHERE sent_at_ms < :before_ms
