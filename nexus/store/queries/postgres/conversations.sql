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
