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
    INSERT INTO link_nodes (request_id, scope, started_at_ms, traffic_class, edge, session_id,
                            agent_id, conversation_id, parent_request_id, branch, subtask_of,
                            task_ordinal, branch_start, task_count)
    SELECT * FROM unnest(
        CAST(:node_request_id AS TEXT[]), CAST(:node_scope AS TEXT[]),
        CAST(:node_started_at_ms AS BIGINT[]), CAST(:node_traffic_class AS TEXT[]),
        CAST(:node_edge AS TEXT[]), CAST(:node_session_id AS TEXT[]),
        CAST(:node_agent_id AS TEXT[]), CAST(:node_conversation_id AS TEXT[]),
        CAST(:node_parent_request_id AS TEXT[]), CAST(:node_branch AS TEXT[]),
        CAST(:node_subtask_of AS TEXT[]), CAST(:node_task_ordinal AS BIGINT[]),
        CAST(:node_branch_start AS BOOLEAN[]), CAST(:node_task_count AS BIGINT[]))
    ON CONFLICT (request_id) DO UPDATE SET
        scope = excluded.scope, started_at_ms = excluded.started_at_ms,
        traffic_class = excluded.traffic_class, edge = excluded.edge,
        session_id = excluded.session_id, agent_id = excluded.agent_id,
        conversation_id = excluded.conversation_id,
        parent_request_id = excluded.parent_request_id, branch = excluded.branch,
        subtask_of = excluded.subtask_of, task_ordinal = excluded.task_ordinal,
        branch_start = excluded.branch_start, task_count = excluded.task_count
),
key_rows AS (
    INSERT INTO link_keys (scope, kind, key, started_at_ms, request_id, ordinal, info)
    SELECT * FROM unnest(
        CAST(:key_scope AS TEXT[]), CAST(:key_kind AS TEXT[]), CAST(:key_key AS TEXT[]),
        CAST(:key_started_at_ms AS BIGINT[]), CAST(:key_request_id AS TEXT[]),
        CAST(:key_ordinal AS BIGINT[]), CAST(:key_info AS TEXT[]))
    ON CONFLICT DO NOTHING
),
summary_rows AS (
    INSERT INTO conversations (id, host, account_id, client_key_id, session_id, started_at_ms,
        last_at_ms, last_request_id, request_count, class_counts, branch_count, subtask_count,
        input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd_micros,
        models, latest_context_tokens, latest_turn_id, latest_turn_at_ms, title,
        last_user_preview)
    SELECT * FROM unnest(
        CAST(:conv_id AS TEXT[]), CAST(:conv_host AS TEXT[]), CAST(:conv_account_id AS TEXT[]),
        CAST(:conv_client_key_id AS TEXT[]), CAST(:conv_session_id AS TEXT[]),
        CAST(:conv_started_at_ms AS BIGINT[]), CAST(:conv_last_at_ms AS BIGINT[]),
        CAST(:conv_last_request_id AS TEXT[]), CAST(:conv_request_count AS BIGINT[]),
        CAST(:conv_class_counts AS TEXT[]), CAST(:conv_branch_count AS BIGINT[]),
        CAST(:conv_subtask_count AS BIGINT[]), CAST(:conv_input_tokens AS BIGINT[]),
        CAST(:conv_output_tokens AS BIGINT[]), CAST(:conv_cache_creation_tokens AS BIGINT[]),
        CAST(:conv_cache_read_tokens AS BIGINT[]), CAST(:conv_cost_usd_micros AS BIGINT[]),
        CAST(:conv_models AS TEXT[]), CAST(:conv_latest_context_tokens AS BIGINT[]),
        CAST(:conv_latest_turn_id AS TEXT[]), CAST(:conv_latest_turn_at_ms AS BIGINT[]),
        CAST(:conv_title AS TEXT[]), CAST(:conv_last_user_preview AS TEXT[]))
    ON CONFLICT (id) DO UPDATE SET
        host = excluded.host, account_id = excluded.account_id,
        client_key_id = excluded.client_key_id, session_id = excluded.session_id,
        started_at_ms = excluded.started_at_ms, last_at_ms = excluded.last_at_ms,
        last_request_id = excluded.last_request_id, request_count = excluded.request_count,
        class_counts = excluded.class_counts, branch_count = excluded.branch_count,
        subtask_count = excluded.subtask_count, input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens,
        cache_creation_tokens = excluded.cache_creation_tokens,
        cache_read_tokens = excluded.cache_read_tokens,
        cost_usd_micros = excluded.cost_usd_micros, models = excluded.models,
        latest_context_tokens = excluded.latest_context_tokens,
        latest_turn_id = excluded.latest_turn_id, latest_turn_at_ms = excluded.latest_turn_at_ms,
        title = excluded.title, last_user_preview = excluded.last_user_preview
)

-- name: conv_due_write
WITH {conv_due_rows}
SELECT 1

-- name: conv_pass_write
-- The end of a linking pass in one round trip: what it wrote since its last read, and the links
-- that are new or differ from the stored ones with their ``link`` events. Returns the ids written.
WITH {conv_due_rows},
given AS (
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
