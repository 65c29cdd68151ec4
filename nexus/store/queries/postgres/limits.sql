-- Limit counters (nexus/store/limits.py, migration 0009).

-- name: limit_counters_add
INSERT INTO limit_counters (scope, kind, start_ms, replica, end_ms, requests, tokens,
                            cost_usd_micros, last_at_ms, updated_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
ON CONFLICT (scope, kind, start_ms, replica) DO UPDATE SET
    requests = limit_counters.requests + excluded.requests,
    tokens = limit_counters.tokens + excluded.tokens,
    cost_usd_micros = limit_counters.cost_usd_micros + excluded.cost_usd_micros,
    last_at_ms = GREATEST(limit_counters.last_at_ms, excluded.last_at_ms),
    updated_at_ms = excluded.updated_at_ms

-- name: limit_counters_changed
SELECT scope, kind, start_ms, end_ms, replica, requests, tokens, cost_usd_micros, last_at_ms
FROM limit_counters WHERE updated_at_ms > $1 AND end_ms > $2

-- name: limit_counters_clock
SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint

-- name: limit_counters_prune
DELETE FROM limit_counters
WHERE (kind IN ('minute', 'hour') AND end_ms < $1) OR end_ms < $2

-- name: limit_counters_last_used
SELECT scope, max(last_at_ms) FROM limit_counters
WHERE kind = 'month' AND scope LIKE 'client:%' GROUP BY scope
