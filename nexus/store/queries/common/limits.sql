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
SELECT scope, kind, start_ms, end_ms, replica, requests, tokens, cost_usd_micros, last_at_ms
FROM limit_counters WHERE updated_at_ms > :since_ms AND end_ms > :live_after_ms

-- name: limit_counters_clock
SELECT {limit_clock} AS now_ms

-- name: limit_counters_prune
DELETE FROM limit_counters
WHERE (kind IN ('minute', 'hour') AND end_ms < :short_before_ms) OR end_ms < :long_before_ms

-- name: limit_counters_last_used
SELECT scope, max(last_at_ms) AS last_at_ms FROM limit_counters
WHERE kind = 'month' AND scope LIKE 'client:%' GROUP BY scope
