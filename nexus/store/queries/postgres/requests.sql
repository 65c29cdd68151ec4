-- Requests on Postgres: only what differs from common/requests.sql.

-- name: stats_size
SELECT pg_database_size(current_database()) AS bytes

-- name: cache_break_array
json_build_array

-- name: request_batch_write
-- A whole batch in one statement, one round trip instead of eight (BEGIN, the six inserts of
-- common/requests.sql and search.sql, COMMIT): a single statement is its own transaction. Each
-- table's rows come as one array per column. Only requests this statement inserts get their
-- blob references, search text and ``request`` event (in batch order): a request another process
-- stored meanwhile is skipped whole, as ``requests_existing`` skips it. Blobs and nodes are
-- content-addressed: inserting one that is there already changes nothing.
WITH blob_rows AS (
    INSERT INTO blobs (hash, kind, size, codec, data)
    SELECT * FROM unnest(CAST(:blob_hash AS BYTEA[]), CAST(:blob_kind AS TEXT[]),
                         CAST(:blob_size AS BIGINT[]), CAST(:blob_codec AS SMALLINT[]),
                         CAST(:blob_data AS BYTEA[]))
    ON CONFLICT DO NOTHING
),
node_rows AS (
    INSERT INTO message_nodes (id, parent_id, blob_hash, sep)
    SELECT * FROM unnest(CAST(:node_id AS BYTEA[]), CAST(:node_parent_id AS BYTEA[]),
                         CAST(:node_blob_hash AS BYTEA[]), CAST(:node_sep AS BYTEA[]))
    ON CONFLICT DO NOTHING
),
given AS (
    SELECT * FROM unnest(
        CAST(:id AS TEXT[]), CAST(:started_at_ms AS BIGINT[]), CAST(:ended_at_ms AS BIGINT[]),
        CAST(:first_byte_at_ms AS BIGINT[]), CAST(:duration_ms AS BIGINT[]),
        CAST(:ttfb_ms AS BIGINT[]), CAST(:method AS TEXT[]), CAST(:path AS TEXT[]),
        CAST(:query AS TEXT[]), CAST(:host AS TEXT[]), CAST(:account_id AS TEXT[]),
        CAST(:client_key_id AS TEXT[]), CAST(:auth_mode AS TEXT[]), CAST(:model AS TEXT[]),
        CAST(:is_streaming AS BOOLEAN[]), CAST(:status AS INTEGER[]), CAST(:outcome AS TEXT[]),
        CAST(:error AS TEXT[]), CAST(:session_id AS TEXT[]), CAST(:agent_id AS TEXT[]),
        CAST(:parent_agent_id AS TEXT[]), CAST(:upstream_request_id AS TEXT[]),
        CAST(:input_tokens AS BIGINT[]), CAST(:output_tokens AS BIGINT[]),
        CAST(:cache_creation_tokens AS BIGINT[]), CAST(:cache_creation_5m_tokens AS BIGINT[]),
        CAST(:cache_creation_1h_tokens AS BIGINT[]), CAST(:cache_read_tokens AS BIGINT[]),
        CAST(:cost_usd_micros AS BIGINT[]), CAST(:stop_reason AS TEXT[]),
        CAST(:user_preview AS TEXT[]), CAST(:reply_preview AS TEXT[]),
        CAST(:message_count AS BIGINT[]), CAST(:tool_count AS BIGINT[]),
        CAST(:tool_use_count AS BIGINT[]), CAST(:request_headers_hash AS BYTEA[]),
        CAST(:response_headers AS BYTEA[]), CAST(:ratelimit AS BYTEA[]),
        CAST(:body_skeleton AS BYTEA[]), CAST(:messages_tail AS BYTEA[]),
        CAST(:body_cuts AS BYTEA[]), CAST(:body_bytes AS BIGINT[]),
        CAST(:response_body AS BYTEA[]), CAST(:response_codec AS SMALLINT[]),
        CAST(:response_bytes AS BIGINT[]), CAST(:response_message AS BYTEA[]),
        CAST(:written_at_ms AS BIGINT[])
    ) WITH ORDINALITY AS g (
        id, started_at_ms, ended_at_ms, first_byte_at_ms, duration_ms, ttfb_ms, method, path,
        query, host, account_id, client_key_id, auth_mode, model, is_streaming, status, outcome,
        error, session_id, agent_id, parent_agent_id, upstream_request_id, input_tokens,
        output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
        cache_read_tokens, cost_usd_micros, stop_reason, user_preview, reply_preview,
        message_count, tool_count, tool_use_count, request_headers_hash, response_headers,
        ratelimit, body_skeleton, messages_tail, body_cuts, body_bytes, response_body,
        response_codec, response_bytes, response_message, written_at_ms, n
    )
),
inserted AS (
    INSERT INTO requests (
        id, started_at_ms, ended_at_ms, first_byte_at_ms, duration_ms, ttfb_ms, method, path,
        query, host, account_id, client_key_id, auth_mode, model, is_streaming, status, outcome,
        error, session_id, agent_id, parent_agent_id, upstream_request_id, input_tokens,
        output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
        cache_read_tokens, cost_usd_micros, stop_reason, user_preview, reply_preview,
        message_count, tool_count, tool_use_count, request_headers_hash, response_headers,
        ratelimit, body_skeleton, messages_tail, body_cuts, body_bytes, response_body,
        response_codec, response_bytes, response_message, written_at_ms
    )
    SELECT id, started_at_ms, ended_at_ms, first_byte_at_ms, duration_ms, ttfb_ms, method, path,
        query, host, account_id, client_key_id, auth_mode, model, is_streaming, status, outcome,
        error, session_id, agent_id, parent_agent_id, upstream_request_id, input_tokens,
        output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
        cache_read_tokens, cost_usd_micros, stop_reason, user_preview, reply_preview,
        message_count, tool_count, tool_use_count, request_headers_hash, response_headers,
        ratelimit, body_skeleton, messages_tail, body_cuts, body_bytes, response_body,
        response_codec, response_bytes, response_message, written_at_ms
    FROM given ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING id
),
blob_refs AS (
    INSERT INTO request_blobs (request_id, hash)
    SELECT b.request_id, b.hash
    FROM unnest(CAST(:ref_request_id AS TEXT[]), CAST(:ref_hash AS BYTEA[])) AS b (request_id, hash)
    JOIN inserted i ON i.id = b.request_id
    ON CONFLICT DO NOTHING
),
texts AS (
    INSERT INTO request_text (request_id, tsv)
    SELECT t.request_id, to_tsvector('simple', t.text)
    FROM unnest(CAST(:text_request_id AS TEXT[]), CAST(:text AS TEXT[])) AS t (request_id, text)
    JOIN inserted i ON i.id = t.request_id
    ON CONFLICT (request_id) DO NOTHING
)
INSERT INTO events (kind, ref_id, at_ms)
SELECT 'request', g.id, :at_ms FROM given g JOIN inserted i USING (id) ORDER BY g.n
