-- What the conversation engine does differently on Postgres (nexus/store/link_index.py).

-- name: conv_node_put_new
-- A node placed for the first time and its keys in one round trip instead of two; the keys come
-- as arrays, one element per key.
WITH node AS ({conv_node_upsert})
INSERT INTO link_keys (scope, kind, key, started_at_ms, request_id, ordinal, info)
SELECT :scope, k.kind, k.key, :started_at_ms, :request_id, k.ordinal, k.info
FROM unnest(CAST(:kinds AS TEXT[]), CAST(:keys AS TEXT[]), CAST(:ordinals AS BIGINT[]),
            CAST(:infos AS TEXT[])) AS k (kind, key, ordinal, info)
ON CONFLICT DO NOTHING

-- name: conv_publish_changed
-- Links that are new or differ from the stored ones written with their ``link`` events, in one
-- round trip instead of three (read the stored links, write the changed ones, add their events;
-- the shared statements are link_upsert and event_insert). Returns the ids written.
WITH given AS (
    SELECT * FROM unnest(CAST(:request_ids AS TEXT[]), CAST(:traffic_classes AS TEXT[]),
                         CAST(:conversation_ids AS TEXT[]), CAST(:parent_request_ids AS TEXT[]),
                         CAST(:branches AS TEXT[]), CAST(:subtasks_of AS TEXT[]),
                         CAST(:agent_ids AS TEXT[]))
        WITH ORDINALITY AS g (request_id, traffic_class, conversation_id, parent_request_id,
                              branch, subtask_of, agent_id, n)
),
changed AS (
    INSERT INTO links (request_id, traffic_class, conversation_id, parent_request_id, branch,
                       subtask_of, agent_id, linked_at_ms)
    SELECT request_id, traffic_class, conversation_id, parent_request_id, branch, subtask_of,
           agent_id, :at_ms
    FROM given ORDER BY n
    ON CONFLICT (request_id) DO UPDATE SET
        traffic_class = excluded.traffic_class, conversation_id = excluded.conversation_id,
        parent_request_id = excluded.parent_request_id, branch = excluded.branch,
        subtask_of = excluded.subtask_of, agent_id = excluded.agent_id,
        linked_at_ms = excluded.linked_at_ms
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
