-- Usage on SQLite: only what differs from common/usage.sql.

-- name: usage_group_day
strftime('%Y-%m-%d', (r.started_at_ms + :utc_offset_ms) / 1000, 'unixepoch')
-- name: usage_group_hour
strftime('%Y-%m-%dT%H', (r.started_at_ms + :utc_offset_ms) / 1000, 'unixepoch')

-- name: usage_cache_write_5m
MAX(r.cache_creation_tokens - r.cache_creation_1h_tokens, r.cache_creation_5m_tokens)
