-- The conversation engine's statements (nexus/store/conversations.py, link_index.py). {node} is
-- the link_nodes columns of alias n, each named node_<column>; positions compare as
-- (started_at_ms, request_id) row values. List filters come from nexus/filters.py.

-- name: node
{link_nodes_read}

-- name: conversation_columns
{conversations_read}

-- name: conv_link_pass
-- First in every transaction that writes the index: counts it, and on Postgres waits for (then
-- holds until commit) the row lock every linker takes, so that linkers take turns.
INSERT INTO link_generation (id, generation) VALUES (1, 1)
ON CONFLICT (id) DO UPDATE SET generation = link_generation.generation + 1
RETURNING generation

-- name: conv_find_keys
-- continued: whether a node before :before continues the hit's node (conv_has_continuation, asked
-- here so that the prefix lookup answers it for its parent without a round trip of its own)
SELECT k.kind, k.key, k.ordinal, k.info, {node},
       EXISTS (SELECT 1 FROM link_nodes c
               WHERE c.parent_request_id = n.request_id AND c.edge IN ('cont', 'retry', 'compact')
                 AND (c.started_at_ms, c.request_id) < (:before_ms, :before_id)) AS continued
FROM link_keys k JOIN link_nodes n ON n.request_id = k.request_id
WHERE k.scope = :scope
  AND k.kind = ANY(:kinds)
  AND k.key = ANY(:keys)
  AND (k.started_at_ms, k.request_id) < (:before_ms, :before_id)
  AND (k.started_at_ms, k.request_id) > (:after_ms, :after_id)
  AND k.started_at_ms >= :since_ms
ORDER BY k.started_at_ms DESC, k.request_id DESC, k.ordinal
LIMIT :limit

-- name: conv_unclaimed_tasks
SELECT k.kind, k.key, k.ordinal, k.info, {node}
FROM link_keys k JOIN link_nodes n ON n.request_id = k.request_id
WHERE k.scope = :scope
  AND k.kind = 't'
  AND k.key = ANY(:keys)
  AND (k.started_at_ms, k.request_id) < (:before_ms, :before_id)
  AND k.started_at_ms >= :since_ms
  AND NOT EXISTS (
      SELECT 1 FROM link_nodes c
      WHERE c.edge = 'task' AND c.subtask_of = k.request_id AND c.task_ordinal = k.ordinal
        AND (c.started_at_ms, c.request_id) < (:before_ms, :before_id))
ORDER BY k.started_at_ms DESC, k.request_id DESC, k.ordinal
LIMIT 50

-- name: conv_first_session_node
SELECT {node} FROM link_nodes n
WHERE n.scope = :scope AND n.session_id = :session_id AND n.edge <> 'background'
  AND (n.started_at_ms, n.request_id) < (:before_ms, :before_id)
  AND (n.started_at_ms, n.request_id) > (:after_ms, :after_id)
ORDER BY n.started_at_ms, n.request_id
LIMIT 1

-- name: conv_has_continuation
SELECT 1 AS found FROM link_nodes
WHERE parent_request_id = :parent AND edge IN ('cont', 'retry', 'compact')
  AND (started_at_ms, request_id) < (:before_ms, :before_id)
LIMIT 1

-- name: conv_count_branch_starts
SELECT count(*) AS n FROM link_nodes
WHERE conversation_id = :conversation_id AND branch_start = TRUE AND edge <> 'background'
  AND branch LIKE :prefix AND (started_at_ms, request_id) < (:before_ms, :before_id)

-- name: conv_count_tasks
SELECT sum(task_count) AS n FROM link_nodes
WHERE conversation_id = :conversation_id AND task_count > 0
  AND (started_at_ms, request_id) < (:before_ms, :before_id)

-- name: conv_branch_tip
SELECT {node} FROM link_nodes n
WHERE n.conversation_id = :conversation_id AND n.branch = :branch AND n.edge <> 'background'
  AND (n.started_at_ms, n.request_id) < (:before_ms, :before_id)
ORDER BY n.started_at_ms DESC, n.request_id DESC
LIMIT 1

-- name: conv_newest_position
SELECT started_at_ms, request_id FROM link_nodes
ORDER BY started_at_ms DESC, request_id DESC
LIMIT 1

-- name: conv_get_nodes
SELECT {node} FROM link_nodes n WHERE n.request_id = ANY(:ids)

-- name: conv_last_position
SELECT started_at_ms, request_id FROM link_nodes
WHERE conversation_id = :conversation_id AND edge <> 'background' AND request_id <> :exclude
ORDER BY started_at_ms DESC, request_id DESC
LIMIT 1

-- name: conv_nodes_after
SELECT {node} FROM link_nodes n
WHERE n.conversation_id = :conversation_id AND n.edge <> 'background'
  AND (n.started_at_ms, n.request_id) > (:after_ms, :after_id)
ORDER BY n.started_at_ms, n.request_id

-- name: conv_session_background
SELECT {node} FROM link_nodes n
WHERE n.scope = :scope AND n.session_id = :session_id AND n.edge = 'background'
ORDER BY n.started_at_ms, n.request_id

-- name: conv_node_upsert
INSERT INTO link_nodes ({link_nodes_cols}) VALUES ({link_nodes_params})
ON CONFLICT (request_id) DO UPDATE SET {link_nodes_set}

-- name: conv_node_delete
DELETE FROM link_nodes WHERE request_id = :request_id

-- name: conv_keys_delete
DELETE FROM link_keys WHERE request_id = :request_id

-- name: conv_key_insert
INSERT INTO link_keys ({link_keys_cols}) VALUES ({link_keys_params}) ON CONFLICT DO NOTHING

-- name: conv_summary_get
SELECT {conversation_columns} FROM conversations c WHERE c.id = :id

-- name: conv_summary_upsert
INSERT INTO conversations ({conversations_cols}) VALUES ({conversations_params})
ON CONFLICT (id) DO UPDATE SET {conversations_set}

-- name: conv_summary_delete
DELETE FROM conversations WHERE id = :id

-- name: conv_tree_rows
SELECT {summary_columns}, {node}
FROM link_nodes n JOIN requests r ON r.id = n.request_id
LEFT JOIN links l ON l.request_id = r.id
WHERE n.conversation_id = :conversation_id
ORDER BY n.started_at_ms, n.request_id

-- name: conv_task_infos
SELECT request_id, ordinal, info FROM link_keys WHERE kind = 't' AND request_id = ANY(:ids)

-- name: conv_list
SELECT {conversation_columns}
FROM conversations c
{where}
ORDER BY c.last_at_ms DESC, c.id DESC
LIMIT :limit

-- name: conv_count
SELECT count(*) AS n FROM conversations c {where}

-- name: conv_positions
SELECT started_at_ms, id FROM requests
WHERE (started_at_ms, id) > (:after_ms, :after_id)
ORDER BY started_at_ms, id
LIMIT :limit

-- name: conv_unlinked
SELECT r.id FROM requests r LEFT JOIN link_nodes n ON n.request_id = r.id
WHERE n.request_id IS NULL
ORDER BY r.started_at_ms, r.id
LIMIT :limit

-- name: is_distinct
IS DISTINCT FROM

-- name: conv_unpublished
SELECT {node} FROM link_nodes n LEFT JOIN links l ON l.request_id = n.request_id
WHERE l.request_id IS NULL
   OR l.traffic_class {is_distinct} n.traffic_class
   OR l.conversation_id {is_distinct} n.conversation_id
   OR l.parent_request_id {is_distinct} n.parent_request_id
   OR l.branch {is_distinct} n.branch
   OR l.subtask_of {is_distinct} n.subtask_of
ORDER BY n.started_at_ms, n.request_id
LIMIT :limit

-- name: conv_links_get
SELECT request_id, traffic_class, conversation_id, parent_request_id, branch, subtask_of, agent_id
FROM links WHERE request_id = ANY(:ids)

-- name: conv_missing_request_nodes
SELECT {node} FROM link_nodes n
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = n.request_id)
LIMIT :limit

-- name: conv_clear_keys
DELETE FROM link_keys
-- name: conv_clear_nodes
DELETE FROM link_nodes
-- name: conv_clear_summaries
DELETE FROM conversations
