-- Limit counters (nexus/store/limits.py, migration 0009). Rows are stamped with the database's
-- clock ({limit_clock}, per dialect) so replicas read each other's changes whatever their clocks.

-- name: limit_counters_add
INSERT INTO limit_counters (scope, kind, start_ms, replica, end_ms, requests, tokens,
                            cost_usd_micros, last_at_ms, updated_at_ms)
VALUES (:scope, :kind, :start_ms, :replica, :end_ms, :requests, :tokens, :cost_usd_micros,
        :last_at_ms, {limit_clock})
ON CONFLICT (scope, kind, start_ms, replica) DO UPDATE SET
    requests = limit_counters.requests + excluded.requests,
    tokens = limit_counters.tokens + excluded.tokens,
    cost_usd_micros = limit_counters.cost_usd_micros + excluded.cost_usd_micros,
    last_at_ms = CASE WHEN excluded.last_at_ms > limit_counters.last_at_ms
                      THEN excluded.last_at_ms ELSE limit_counters.last_at_ms END,
    updated_at_ms = excluded.updated_at_ms

-- name: limit_counters_changed
-- The database's clock comes with the rows (one round trip per read, not two): one row with NULLs
-- when nothing changed. A reader takes the smallest clock of the rows (SQLite may read 'now' per row).
SELECT c.now_ms, r.scope, r.kind, r.start_ms, r.end_ms, r.replica, r.requests, r.tokens,
       r.cost_usd_micros, r.last_at_ms
FROM (SELECT {limit_clock} AS now_ms) AS c
LEFT JOIN limit_counters AS r ON r.updated_at_ms > :since_ms AND r.end_ms > :live_after_ms

-- name: limit_counters_clock
SELECT {limit_clock} AS now_ms

-- name: limit_counters_prune
DELETE FROM limit_counters
WHERE (kind IN ('minute', 'hour') AND end_ms < :short_before_ms) OR end_ms < :long_before_ms

-- name: limit_counters_last_used
SELECT scope, max(last_at_ms) AS last_at_ms FROM limit_counters
WHERE kind = 'month' AND scope LIKE 'client:%' GROUP BY scope
