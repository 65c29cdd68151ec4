-- Usage on Postgres: only what differs from common/usage.sql.

-- name: usage_group_day
to_char(to_timestamp((r.started_at_ms + CAST(:utc_offset_ms AS BIGINT)) / 1000.0) AT TIME ZONE 'UTC',
        'YYYY-MM-DD')
-- name: usage_group_hour
to_char(to_timestamp((r.started_at_ms + CAST(:utc_offset_ms AS BIGINT)) / 1000.0) AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24')

-- name: usage_cache_write_5m
GREATEST(r.cache_creation_tokens - r.cache_creation_1h_tokens, r.cache_creation_5m_tokens)
