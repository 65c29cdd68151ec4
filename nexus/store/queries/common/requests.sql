-- Requests (nexus/store/requests.py): writing batches, reading a request back, lists, links, stats,
-- prune. Rows are read by column name (nexus/store/rows.py); list filters come from nexus/filters.py.

-- name: summary_columns
r.id, r.started_at_ms, r.duration_ms, r.ttfb_ms, r.method, r.path, r.host, r.account_id,
r.client_key_id, r.model, r.is_streaming, r.status, r.outcome, r.error, r.session_id, r.agent_id,
r.upstream_request_id, r.input_tokens, r.output_tokens, r.cache_creation_tokens,
r.cache_creation_5m_tokens, r.cache_creation_1h_tokens, r.cache_read_tokens, r.cost_usd_micros,
r.stop_reason, r.user_preview, r.reply_preview, r.message_count, r.tool_count, r.tool_use_count,
l.traffic_class, l.conversation_id, l.parent_request_id, l.branch, l.subtask_of,
(SELECT {cache_break_array}(b.cause, b.detail, b.missed_tokens, b.excess_cost_usd_micros)
 FROM cache_breaks b WHERE b.request_id = r.id) AS cache_break

-- The ledger's row of a request, as one JSON array (rows.cache_break_from_json).
-- name: cache_break_array
json_array

-- name: requests_existing
SELECT id FROM requests WHERE id = ANY(:ids)

-- name: blob_insert
INSERT INTO blobs ({blobs_cols}) VALUES ({blobs_params}) ON CONFLICT DO NOTHING

-- name: node_insert
INSERT INTO message_nodes ({message_nodes_cols}) VALUES ({message_nodes_params})
ON CONFLICT DO NOTHING

-- name: request_blob_insert
INSERT INTO request_blobs (request_id, hash) VALUES (:request_id, :hash) ON CONFLICT DO NOTHING

-- name: request_insert
INSERT INTO requests ({requests_cols}) VALUES ({requests_params}) ON CONFLICT DO NOTHING

-- name: event_insert
INSERT INTO events (kind, ref_id, at_ms) VALUES (:kind, :ref_id, :at_ms)

-- name: link_upsert
INSERT INTO links ({links_cols}) VALUES ({links_params})
ON CONFLICT (request_id) DO UPDATE SET {links_set}

-- name: request_get
SELECT {summary_columns}, r.request_headers_hash, r.response_headers, r.ratelimit,
       r.body_skeleton, r.body_cuts, r.response_body, r.response_codec, r.response_message,
       r.auth_mode, r.query, r.first_byte_at_ms
FROM requests r LEFT JOIN links l ON l.request_id = r.id
WHERE r.id = :id

-- name: blobs_get
SELECT hash, codec, data FROM blobs WHERE hash = ANY(:hashes)

-- name: chain_get
WITH RECURSIVE chain (id, parent_id, blob_hash, sep, depth) AS (
    SELECT id, parent_id, blob_hash, sep, 0 FROM message_nodes WHERE id = :tail
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
LIMIT :limit

-- name: requests_count
SELECT count(*) AS n FROM requests r LEFT JOIN links l ON l.request_id = r.id {where}

-- name: stats_requests
SELECT count(*) AS requests,
       CAST(coalesce(sum(body_bytes + response_bytes), 0) AS BIGINT) AS received,
       min(started_at_ms) AS oldest, max(started_at_ms) AS newest
FROM requests

-- name: stats_blobs
SELECT count(*) AS blobs, CAST(coalesce(sum(size), 0) AS BIGINT) AS unique_bytes
FROM blobs WHERE kind IN ('message', 'system', 'tools', 'body')

-- name: prune_requests
DELETE FROM requests WHERE started_at_ms < :before
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
