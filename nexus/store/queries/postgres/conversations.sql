-- What the conversation engine does differently on Postgres (nexus/store/link_index.py).

-- name: conv_find_keys
-- common/conversations.sql's lookup, one wanted (kind, key) at a time: the recorder runs it as a
-- generic plan, which cannot know an array parameter's length, and with ``= ANY(array)`` that plan
-- scanned all of link_keys (1.4 ms at 2 600 keys, growing with the store). Each (kind, key) now
-- takes its newest keys from the primary key's order, and the newest :limit of those are the
-- newest :limit overall (same order, same limit).
-- continued: whether a node before :before continues the hit's node (conv_has_continuation).
SELECT hit.*
FROM (SELECT DISTINCT unnest(CAST(:kinds AS TEXT[])) AS kind) AS wanted_kind
CROSS JOIN (SELECT DISTINCT unnest(CAST(:keys AS TEXT[])) AS key) AS wanted_key
CROSS JOIN LATERAL (
    SELECT k.kind, k.key, k.ordinal, k.info, {node},
           EXISTS (SELECT 1 FROM link_nodes c
                   WHERE c.parent_request_id = n.request_id
                     AND c.edge IN ('cont', 'retry', 'compact')
                     AND (c.started_at_ms, c.request_id) < (:before_ms, :before_id)) AS continued,
           k.started_at_ms AS key_started_at_ms, k.request_id AS key_request_id
    FROM link_keys k JOIN link_nodes n ON n.request_id = k.request_id
    WHERE k.scope = :scope AND k.kind = wanted_kind.kind AND k.key = wanted_key.key
      AND (k.started_at_ms, k.request_id) < (:before_ms, :before_id)
      AND (k.started_at_ms, k.request_id) > (:after_ms, :after_id)
      AND k.started_at_ms >= :since_ms
    ORDER BY k.started_at_ms DESC, k.request_id DESC, k.ordinal
    LIMIT :limit
) AS hit
ORDER BY hit.key_started_at_ms DESC, hit.key_request_id DESC, hit.ordinal
LIMIT :limit

-- name: conv_due_rows
-- What a linking pass wrote since its last read (nexus/store/link_index.py keeps it until the next
-- read or the pass's end): new nodes with their keys and conversation summaries. Each table's rows
-- come as one array per column, no row twice.
node_rows AS (
    INSERT INTO link_nodes ({link_nodes_cols}) SELECT * FROM unnest({link_nodes_arrays})
    ON CONFLICT (request_id) DO UPDATE SET {link_nodes_set}
),
key_rows AS (
    INSERT INTO link_keys ({link_keys_cols}) SELECT * FROM unnest({link_keys_arrays})
    ON CONFLICT DO NOTHING
),
summary_rows AS (
    INSERT INTO conversations ({conversations_cols}) SELECT * FROM unnest({conversations_arrays})
    ON CONFLICT (id) DO UPDATE SET {conversations_set}
)

-- name: conv_due_write
WITH {conv_due_rows}
SELECT 1

-- name: conv_pass_write
-- The end of a linking pass in one round trip: what it wrote since its last read, and the links
-- that are new or differ from the stored ones with their ``link`` events. Returns the ids written.
WITH {conv_due_rows},
given AS (
    SELECT * FROM unnest({links_arrays}) WITH ORDINALITY AS g ({links_cols}, n)
),
changed AS (
    INSERT INTO links ({links_cols}) SELECT {links_cols} FROM given ORDER BY n
    ON CONFLICT (request_id) DO UPDATE SET {links_set}
    WHERE (links.traffic_class, links.conversation_id, links.parent_request_id, links.branch,
           links.subtask_of, links.agent_id)
          IS DISTINCT FROM (excluded.traffic_class, excluded.conversation_id,
                            excluded.parent_request_id, excluded.branch, excluded.subtask_of,
                            excluded.agent_id)
    RETURNING request_id
),
added AS (
    INSERT INTO events (kind, ref_id, at_ms)
    SELECT 'link', g.request_id, :at_ms FROM given g JOIN changed c USING (request_id) ORDER BY g.n
)
SELECT request_id FROM changed
