-- Usage on SQLite: only what differs from common/usage.sql.

-- name: usage_group_day
strftime('%Y-%m-%d', (r.started_at_ms + :utc_offset_ms) / 1000, 'unixepoch')
-- name: usage_group_hour
strftime('%Y-%m-%dT%H', (r.started_at_ms + :utc_offset_ms) / 1000, 'unixepoch')

-- name: usage_cache_write_5m
MAX(r.cache_creation_tokens - r.cache_creation_1h_tokens, r.cache_creation_5m_tokens)

-- Without statistics SQLite walks requests_session / requests_model / requests_started for a
-- grouped report and reads every wide row (GROUP BY session over 100 000 requests: 290 ms); the
-- covering index plus a sort for the groups reads no row (160 ms). Only used without the links join.
-- name: usage_requests_covered
requests r INDEXED BY requests_usage
