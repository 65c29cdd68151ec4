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
    INSERT INTO blobs ({blobs_cols}) SELECT * FROM unnest({blobs_arrays}) ON CONFLICT DO NOTHING
),
node_rows AS (
    INSERT INTO message_nodes ({message_nodes_cols}) SELECT * FROM unnest({message_nodes_arrays})
    ON CONFLICT DO NOTHING
),
given AS (
    SELECT * FROM unnest({requests_arrays}) WITH ORDINALITY AS g ({requests_cols}, n)
),
inserted AS (
    INSERT INTO requests ({requests_cols})
    SELECT {requests_cols} FROM given ORDER BY n
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
