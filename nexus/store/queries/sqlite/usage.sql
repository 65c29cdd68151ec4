-- Usage area: reports, rate-limit readings, usage points, recost. Fragments in {braces} are filled
-- by nexus/store/sqlite/usage.py from the usage_group_* / usage_account blocks below.

-- name: usage_account
COALESCE(r.account_id, 'key:' || r.client_key_id, 'host:' || r.host)

-- name: usage_group_host
r.host
-- name: usage_group_model
r.model
-- name: usage_group_session
r.session_id
-- name: usage_group_client_key
r.client_key_id
-- name: usage_group_class
l.traffic_class
-- name: usage_group_day
strftime('%Y-%m-%d', (r.started_at_ms + ?) / 1000, 'unixepoch')
-- name: usage_group_hour
strftime('%Y-%m-%dT%H', (r.started_at_ms + ?) / 1000, 'unixepoch')

-- name: usage_links_join
LEFT JOIN links l ON l.request_id = r.id

-- name: usage_report
SELECT {groups}
       COUNT(*),
       SUM(CASE WHEN r.status IS NULL OR r.status >= 400
                     OR r.outcome NOT IN ('complete', 'client_disconnected') THEN 1 ELSE 0 END),
       SUM(r.input_tokens),
       SUM(r.output_tokens),
       SUM(MAX(r.cache_creation_tokens - r.cache_creation_1h_tokens, r.cache_creation_5m_tokens)),
       SUM(r.cache_creation_1h_tokens),
       SUM(r.cache_read_tokens),
       SUM(COALESCE(r.cost_usd_micros, 0)),
       SUM(CASE WHEN r.cost_usd_micros IS NULL THEN 1 ELSE 0 END),
       MIN(r.started_at_ms),
       MAX(r.started_at_ms)
FROM requests r {join}
{where}
{group_by}

-- name: usage_readings
SELECT r.id, COALESCE(r.first_byte_at_ms, r.started_at_ms), {account}, r.client_key_id,
       r.session_id, r.ratelimit
FROM requests r
WHERE length(r.ratelimit) > 2 AND r.started_at_ms >= ? AND r.started_at_ms < ? {account_filter}
ORDER BY r.started_at_ms DESC, r.id DESC
LIMIT ?

-- name: usage_reading_accounts
WITH RECURSIVE accounts(a) AS (
    SELECT MIN({account}) FROM requests r WHERE length(r.ratelimit) > 2
    UNION ALL
    SELECT (SELECT MIN({account}) FROM requests r
            WHERE length(r.ratelimit) > 2 AND {account} > accounts.a)
    FROM accounts WHERE a IS NOT NULL
)
SELECT a FROM accounts WHERE a IS NOT NULL

-- name: usage_latest_for_account
SELECT r.id, COALESCE(r.first_byte_at_ms, r.started_at_ms), {account}, r.client_key_id,
       r.session_id, r.ratelimit
FROM requests r
WHERE {account} = ? AND length(r.ratelimit) > 2 AND r.started_at_ms >= ?
ORDER BY r.started_at_ms DESC
LIMIT 5

-- name: usage_points
SELECT r.id, r.started_at_ms, {account}, r.client_key_id, r.session_id, r.model,
       r.input_tokens, r.output_tokens, r.cache_creation_tokens, r.cache_creation_5m_tokens,
       r.cache_creation_1h_tokens, r.cache_read_tokens, r.cost_usd_micros
FROM requests r
WHERE r.started_at_ms >= ? AND r.started_at_ms < ? {account_filter}
ORDER BY r.started_at_ms, r.id

-- name: usage_recost_page
SELECT r.id, r.model, r.started_at_ms, r.input_tokens, r.output_tokens, r.cache_creation_tokens,
       r.cache_creation_5m_tokens, r.cache_creation_1h_tokens, r.cache_read_tokens,
       r.cost_usd_micros
FROM requests r
WHERE r.id > ?
ORDER BY r.id
LIMIT ?

-- name: usage_recost_update
UPDATE requests SET cost_usd_micros = ? WHERE id = ?
