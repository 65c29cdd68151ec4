-- The conversation engine's statements (nexus/store/conversation_index.py). {node} expands to the
-- link_nodes columns of alias n; positions compare as (started_at_ms, request_id) row values.

-- name: conv_find_keys
SELECT k.kind, k.key, k.ordinal, k.info, {node}
FROM link_keys k JOIN link_nodes n ON n.request_id = k.request_id
WHERE k.scope = $1
  AND k.kind = ANY($2::text[])
  AND k.key = ANY($3::text[])
  AND (k.started_at_ms, k.request_id) < ($4, $5)
  AND (k.started_at_ms, k.request_id) > ($6, $7)
  AND k.started_at_ms >= $8
ORDER BY k.started_at_ms DESC, k.request_id DESC, k.ordinal
LIMIT $9

-- name: conv_unclaimed_tasks
SELECT k.kind, k.key, k.ordinal, k.info, {node}
FROM link_keys k JOIN link_nodes n ON n.request_id = k.request_id
WHERE k.scope = $1
  AND k.kind = 't'
  AND k.key = ANY($2::text[])
  AND (k.started_at_ms, k.request_id) < ($3, $4)
  AND k.started_at_ms >= $5
  AND NOT EXISTS (
      SELECT 1 FROM link_nodes c
      WHERE c.edge = 'task' AND c.subtask_of = k.request_id AND c.task_ordinal = k.ordinal
        AND (c.started_at_ms, c.request_id) < ($3, $4))
ORDER BY k.started_at_ms DESC, k.request_id DESC, k.ordinal
LIMIT 50

-- name: conv_first_session_node
SELECT {node} FROM link_nodes n
WHERE n.scope = $1 AND n.session_id = $2 AND n.edge <> 'background'
  AND (n.started_at_ms, n.request_id) < ($3, $4)
  AND (n.started_at_ms, n.request_id) > ($5, $6)
ORDER BY n.started_at_ms, n.request_id
LIMIT 1

-- name: conv_has_continuation
SELECT 1 FROM link_nodes
WHERE parent_request_id = $1 AND edge IN ('cont', 'retry', 'compact')
  AND (started_at_ms, request_id) < ($2, $3)
LIMIT 1

-- name: conv_count_branch_starts
SELECT count(*) FROM link_nodes
WHERE conversation_id = $1 AND branch_start AND edge <> 'background' AND branch LIKE $2
  AND (started_at_ms, request_id) < ($3, $4)

-- name: conv_count_tasks
SELECT sum(task_count) FROM link_nodes
WHERE conversation_id = $1 AND task_count > 0 AND (started_at_ms, request_id) < ($2, $3)

-- name: conv_branch_tip
SELECT {node} FROM link_nodes n
WHERE n.conversation_id = $1 AND n.branch = $2 AND n.edge <> 'background'
  AND (n.started_at_ms, n.request_id) < ($3, $4)
ORDER BY n.started_at_ms DESC, n.request_id DESC
LIMIT 1

-- name: conv_get_nodes
SELECT {node} FROM link_nodes n WHERE n.request_id = ANY($1::text[])

-- name: conv_last_position
SELECT started_at_ms, request_id FROM link_nodes
WHERE conversation_id = $1 AND edge <> 'background' AND request_id <> $2
ORDER BY started_at_ms DESC, request_id DESC
LIMIT 1

-- name: conv_nodes_after
SELECT {node} FROM link_nodes n
WHERE n.conversation_id = $1 AND n.edge <> 'background' AND (n.started_at_ms, n.request_id) > ($2, $3)
ORDER BY n.started_at_ms, n.request_id

-- name: conv_session_background
SELECT {node} FROM link_nodes n
WHERE n.scope = $1 AND n.session_id = $2 AND n.edge = 'background'
ORDER BY n.started_at_ms, n.request_id

-- name: conv_node_upsert
INSERT INTO link_nodes (request_id, scope, started_at_ms, traffic_class, edge, session_id, agent_id,
                        conversation_id, parent_request_id, branch, subtask_of, task_ordinal,
                        branch_start, task_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (request_id) DO UPDATE SET
    scope = excluded.scope, started_at_ms = excluded.started_at_ms,
    traffic_class = excluded.traffic_class, edge = excluded.edge, session_id = excluded.session_id,
    agent_id = excluded.agent_id, conversation_id = excluded.conversation_id,
    parent_request_id = excluded.parent_request_id, branch = excluded.branch,
    subtask_of = excluded.subtask_of, task_ordinal = excluded.task_ordinal,
    branch_start = excluded.branch_start, task_count = excluded.task_count

-- name: conv_node_delete
DELETE FROM link_nodes WHERE request_id = $1

-- name: conv_keys_delete
DELETE FROM link_keys WHERE request_id = $1

-- name: conv_key_insert
INSERT INTO link_keys (scope, kind, key, started_at_ms, request_id, ordinal, info)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING

-- name: conv_summary_get
SELECT id, host, account_id, client_key_id, session_id, started_at_ms, last_at_ms, last_request_id,
       request_count, class_counts, branch_count, subtask_count, input_tokens, output_tokens,
       cache_creation_tokens, cache_read_tokens, cost_usd_micros, models, latest_context_tokens,
       latest_turn_id, latest_turn_at_ms, title, last_user_preview
FROM conversations WHERE id = $1

-- name: conv_summary_upsert
INSERT INTO conversations (id, host, account_id, client_key_id, session_id, started_at_ms,
    last_at_ms, last_request_id, request_count, class_counts, branch_count, subtask_count,
    input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd_micros, models,
    latest_context_tokens, latest_turn_id, latest_turn_at_ms, title, last_user_preview)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, account_id = excluded.account_id,
    client_key_id = excluded.client_key_id, session_id = excluded.session_id,
    started_at_ms = excluded.started_at_ms, last_at_ms = excluded.last_at_ms,
    last_request_id = excluded.last_request_id, request_count = excluded.request_count,
    class_counts = excluded.class_counts, branch_count = excluded.branch_count,
    subtask_count = excluded.subtask_count, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, cache_creation_tokens = excluded.cache_creation_tokens,
    cache_read_tokens = excluded.cache_read_tokens, cost_usd_micros = excluded.cost_usd_micros,
    models = excluded.models, latest_context_tokens = excluded.latest_context_tokens,
    latest_turn_id = excluded.latest_turn_id, latest_turn_at_ms = excluded.latest_turn_at_ms,
    title = excluded.title, last_user_preview = excluded.last_user_preview

-- name: conv_summary_delete
DELETE FROM conversations WHERE id = $1

-- name: conv_summary_rows
SELECT {summary_columns}, {node}
FROM link_nodes n JOIN requests r ON r.id = n.request_id
LEFT JOIN links l ON l.request_id = r.id
WHERE n.conversation_id = $1

-- name: conv_tree_rows
SELECT {summary_columns}, {node}
FROM link_nodes n JOIN requests r ON r.id = n.request_id
LEFT JOIN links l ON l.request_id = r.id
WHERE n.conversation_id = $1
ORDER BY n.started_at_ms, n.request_id

-- name: conv_task_infos
SELECT request_id, ordinal, info FROM link_keys
WHERE kind = 't' AND request_id = ANY($1::text[])

-- name: conv_list
SELECT id, host, account_id, client_key_id, session_id, started_at_ms, last_at_ms, last_request_id,
       request_count, class_counts, branch_count, subtask_count, input_tokens, output_tokens,
       cache_creation_tokens, cache_read_tokens, cost_usd_micros, models, latest_context_tokens,
       latest_turn_id, latest_turn_at_ms, title, last_user_preview
FROM conversations c
{where}
ORDER BY c.last_at_ms DESC, c.id DESC
LIMIT ?

-- name: conv_count
SELECT count(*) FROM conversations c {where}

-- name: conv_filter_cursor
(c.last_at_ms, c.id) < (?, ?)

-- name: conv_filter_since
c.last_at_ms >= ?

-- name: conv_filter_until
c.started_at_ms < ?

-- name: conv_filter_host
c.host = ?

-- name: conv_filter_account
c.account_id = ?

-- name: conv_filter_model
-- ILIKE: a filter ignores case, as SQLite's LIKE does (and core.sql's filter_model).
c.models ILIKE ? ESCAPE '\'

-- name: conv_filter_session
c.session_id = ?

-- name: conv_filter_id
c.id = ?

-- name: conv_filter_class
coalesce((c.class_counts::jsonb ->> ?)::bigint, 0) > 0

-- name: conv_filter_text
-- The search index's own match (filter_text, events.sql) over every request of the conversation,
-- plus the title and last prompt as substrings. EXISTS walks conversations newest first and stops
-- at the page's end; the match's id list is computed once. The link_nodes subquery names its
-- request id r.id, as filter_text expects.
(c.title ILIKE ? ESCAPE '\' OR c.last_user_preview ILIKE ? ESCAPE '\' OR EXISTS (
    SELECT 1 FROM (SELECT n.request_id AS id FROM link_nodes n WHERE n.conversation_id = c.id) r
    WHERE {filter_text}))

-- name: conv_positions
SELECT started_at_ms, id FROM requests
WHERE (started_at_ms, id) > ($1, $2)
ORDER BY started_at_ms, id
LIMIT $3

-- name: conv_unlinked
SELECT r.id FROM requests r LEFT JOIN link_nodes n ON n.request_id = r.id
WHERE n.request_id IS NULL
ORDER BY r.started_at_ms, r.id
LIMIT $1

-- name: conv_unpublished
SELECT {node} FROM link_nodes n LEFT JOIN links l ON l.request_id = n.request_id
WHERE l.request_id IS NULL
   OR l.traffic_class IS DISTINCT FROM n.traffic_class
   OR l.conversation_id IS DISTINCT FROM n.conversation_id
   OR l.parent_request_id IS DISTINCT FROM n.parent_request_id
   OR l.branch IS DISTINCT FROM n.branch
   OR l.subtask_of IS DISTINCT FROM n.subtask_of
ORDER BY n.started_at_ms, n.request_id
LIMIT $1

-- name: conv_links_get
SELECT request_id, traffic_class, conversation_id, parent_request_id, branch, subtask_of, agent_id
FROM links WHERE request_id = ANY($1::text[])

-- name: conv_missing_request_nodes
SELECT {node} FROM link_nodes n
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = n.request_id)
LIMIT $1

-- name: conv_clear_keys
DELETE FROM link_keys

-- name: conv_clear_nodes
DELETE FROM link_nodes

-- name: conv_clear_summaries
DELETE FROM conversations
