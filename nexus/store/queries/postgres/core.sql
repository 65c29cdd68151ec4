-- Core: requests, bodies, links, maintenance. Summary column order is read by store/rows.py.
-- Filter fragments keep '?' placeholders: store/filters.py numbers them when a list query is built.

-- name: summary_columns
r.id, r.started_at_ms, r.duration_ms, r.ttfb_ms, r.method, r.path, r.host, r.account_id,
r.client_key_id, r.model, r.is_streaming, r.status, r.outcome, r.error, r.session_id, r.agent_id,
r.upstream_request_id, r.input_tokens, r.output_tokens, r.cache_creation_tokens,
r.cache_creation_5m_tokens, r.cache_creation_1h_tokens, r.cache_read_tokens, r.cost_usd_micros,
r.stop_reason, r.user_preview, r.reply_preview, r.message_count, r.tool_count, r.tool_use_count,
l.traffic_class, l.conversation_id, l.parent_request_id, l.branch, l.subtask_of,
(SELECT json_build_array(b.cause, b.detail, b.missed_tokens, b.excess_cost_usd_micros)
 FROM cache_breaks b WHERE b.request_id = r.id)

-- name: requests_existing
SELECT id FROM requests WHERE id = ANY($1::text[])

-- name: blob_insert
INSERT INTO blobs (hash, kind, size, codec, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING

-- name: node_insert
INSERT INTO message_nodes (id, parent_id, blob_hash, sep) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING

-- name: request_blob_insert
INSERT INTO request_blobs (request_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING

-- name: request_insert
INSERT INTO requests (
    id, started_at_ms, ended_at_ms, first_byte_at_ms, duration_ms, ttfb_ms, method, path, query,
    host, account_id, client_key_id, auth_mode, model, is_streaming, status, outcome, error,
    session_id, agent_id, parent_agent_id, upstream_request_id, input_tokens, output_tokens,
    cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens,
    cost_usd_micros, stop_reason, user_preview, reply_preview, message_count, tool_count,
    tool_use_count, request_headers_hash, response_headers, ratelimit, body_skeleton,
    messages_tail, body_cuts, body_bytes, response_body, response_codec, response_bytes,
    response_message, written_at_ms
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32,
    $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47
) ON CONFLICT DO NOTHING

-- name: event_insert
INSERT INTO events (kind, ref_id, at_ms) VALUES ($1, $2, $3)

-- name: link_upsert
INSERT INTO links (request_id, traffic_class, conversation_id, parent_request_id, branch,
                   subtask_of, agent_id, linked_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (request_id) DO UPDATE SET
    traffic_class = excluded.traffic_class, conversation_id = excluded.conversation_id,
    parent_request_id = excluded.parent_request_id, branch = excluded.branch,
    subtask_of = excluded.subtask_of, agent_id = excluded.agent_id,
    linked_at_ms = excluded.linked_at_ms

-- name: request_get
SELECT {summary_columns}, r.request_headers_hash, r.response_headers, r.ratelimit,
       r.body_skeleton, r.body_cuts, r.response_body, r.response_codec, r.response_message,
       r.auth_mode, r.query, r.first_byte_at_ms
FROM requests r LEFT JOIN links l ON l.request_id = r.id
WHERE r.id = $1

-- name: blobs_get
SELECT hash, codec, data FROM blobs WHERE hash = ANY($1::bytea[])

-- name: chain_get
WITH RECURSIVE chain (id, parent_id, blob_hash, sep, depth) AS (
    SELECT id, parent_id, blob_hash, sep, 0 FROM message_nodes WHERE id = $1
    UNION ALL
    SELECT n.id, n.parent_id, n.blob_hash, n.sep, c.depth + 1
    FROM message_nodes n JOIN chain c ON n.id = c.parent_id
)
SELECT c.sep, b.codec, b.data FROM chain c JOIN blobs b ON b.hash = c.blob_hash
ORDER BY c.depth DESC

-- name: requests_list
SELECT {summary_columns}
FROM requests r LEFT JOIN links l ON l.request_id = r.id
{where}
ORDER BY r.id DESC
LIMIT ?

-- name: requests_count
SELECT count(*) FROM requests r LEFT JOIN links l ON l.request_id = r.id {where}

-- name: filter_cursor
r.id < ?
-- name: filter_since
r.started_at_ms >= ?
-- name: filter_until
r.started_at_ms < ?
-- name: filter_host
r.host = ?
-- name: filter_account
r.account_id = ?
-- name: filter_model
r.model ILIKE ? ESCAPE '\'
-- name: filter_status_exact
r.status = ?
-- name: filter_status_range
r.status >= ? AND r.status < ?
-- name: filter_status_error
-- The same rule as nexus.records.is_error: no answer, an error status, or an answer that broke
-- off or ended in an error event.
(r.status IS NULL OR r.status >= 400 OR r.outcome NOT IN ('complete', 'client_disconnected'))
-- name: filter_class
l.traffic_class = ?
-- name: filter_session
r.session_id = ?
-- name: filter_conversation
l.conversation_id = ?
-- name: filter_text_fallback
(r.user_preview ILIKE ? ESCAPE '\' OR r.reply_preview ILIKE ? ESCAPE '\')

-- name: stats_requests
SELECT count(*), coalesce(sum(body_bytes + response_bytes), 0)::bigint, min(started_at_ms),
       max(started_at_ms)
FROM requests

-- name: stats_blobs
SELECT count(*), coalesce(sum(size), 0)::bigint FROM blobs WHERE kind IN ('message', 'system', 'tools', 'body')

-- name: stats_size
SELECT pg_database_size(current_database())

-- name: prune_requests
DELETE FROM requests WHERE started_at_ms < $1
-- name: prune_links
DELETE FROM links WHERE request_id NOT IN (SELECT id FROM requests)
-- name: prune_events
DELETE FROM events
WHERE kind IN ('request', 'link') AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = events.ref_id)
-- name: prune_request_blobs
DELETE FROM request_blobs WHERE request_id NOT IN (SELECT id FROM requests)
-- name: prune_nodes
DELETE FROM message_nodes WHERE id NOT IN (
    WITH RECURSIVE live (id) AS (
        SELECT messages_tail FROM requests WHERE messages_tail IS NOT NULL
        UNION
        SELECT n.parent_id FROM message_nodes n JOIN live ON n.id = live.id
        WHERE n.parent_id IS NOT NULL
    )
    SELECT id FROM live
)
-- name: prune_blobs
DELETE FROM blobs
WHERE hash NOT IN (SELECT blob_hash FROM message_nodes)
  AND hash NOT IN (SELECT hash FROM request_blobs)
