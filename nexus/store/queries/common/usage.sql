-- Usage area (nexus/store/usage.py): reports, rate-limit readings, usage points, recost. Fragments
-- in {braces} that are not blocks here ({groups}, {where} …) are filled by the area.

-- name: usage_account
COALESCE(r.account_id, 'key:' || r.client_key_id, 'host:' || r.host)

-- name: usage_group_account
{usage_account}
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

-- name: usage_links_join
LEFT JOIN links l ON l.request_id = r.id

-- name: usage_requests_covered
requests r

-- name: usage_report
SELECT {groups}
       COUNT(*) AS requests,
       SUM(CASE WHEN r.status IS NULL OR r.status >= 400
                     OR r.outcome NOT IN ('complete', 'client_disconnected') THEN 1 ELSE 0 END)
           AS errors,
       SUM(r.input_tokens) AS input_tokens,
       SUM(r.output_tokens) AS output_tokens,
       SUM({usage_cache_write_5m}) AS cache_write_5m_tokens,
       SUM(r.cache_creation_1h_tokens) AS cache_write_1h_tokens,
       SUM(r.cache_read_tokens) AS cache_read_tokens,
       SUM(COALESCE(r.cost_usd_micros, 0)) AS cost_usd_micros,
       SUM(CASE WHEN r.cost_usd_micros IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
       MIN(r.started_at_ms) AS first_ms,
       MAX(r.started_at_ms) AS last_ms
FROM {source} {join}
{where}
{group_by}

-- name: usage_reading_columns
r.id AS request_id, COALESCE(r.first_byte_at_ms, r.started_at_ms) AS at_ms,
{usage_account} AS account, r.client_key_id, r.session_id, r.ratelimit

-- name: usage_readings
SELECT {usage_reading_columns}
FROM requests r
WHERE length(r.ratelimit) > 2 AND r.started_at_ms >= :since_ms AND r.started_at_ms < :until_ms
  {account_filter}
ORDER BY r.started_at_ms DESC, r.id DESC
LIMIT :limit

-- name: usage_account_filter
AND {usage_account} = :account

-- name: usage_reading_accounts
WITH RECURSIVE accounts(a) AS (
    SELECT MIN({usage_account}) FROM requests r WHERE length(r.ratelimit) > 2
    UNION ALL
    SELECT (SELECT MIN({usage_account}) FROM requests r
            WHERE length(r.ratelimit) > 2 AND {usage_account} > accounts.a)
    FROM accounts WHERE a IS NOT NULL
)
SELECT a AS account FROM accounts WHERE a IS NOT NULL

-- name: usage_latest_for_account
SELECT {usage_reading_columns}
FROM requests r
WHERE {usage_account} = :account AND length(r.ratelimit) > 2 AND r.started_at_ms >= :since_ms
ORDER BY r.started_at_ms DESC
LIMIT 5

-- name: usage_token_columns
r.input_tokens, r.output_tokens, r.cache_creation_tokens, r.cache_creation_5m_tokens,
r.cache_creation_1h_tokens, r.cache_read_tokens, r.cost_usd_micros

-- name: usage_points
SELECT r.id, r.started_at_ms, {usage_account} AS account, r.client_key_id, r.session_id, r.model,
       {usage_token_columns}
FROM requests r
WHERE r.started_at_ms >= :since_ms AND r.started_at_ms < :until_ms {account_filter}
ORDER BY r.started_at_ms, r.id

-- name: usage_recost_page
SELECT r.id, r.model, r.started_at_ms, {usage_token_columns}
FROM requests r
WHERE r.id > :after
ORDER BY r.id
LIMIT :limit

-- name: usage_recost_update
UPDATE requests SET cost_usd_micros = :cost WHERE id = :id
