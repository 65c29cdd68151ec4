-- Full-text search on Postgres: a tsvector per request (migrations 0005, 0007).

-- name: search_text_insert
INSERT INTO request_text (request_id, tsv) VALUES (:request_id, to_tsvector('simple', :text))
ON CONFLICT (request_id) DO NOTHING

-- Every word of the query must occur; plainto_tsquery ignores operators typed by users.
-- name: search_match
r.id IN (SELECT t.request_id FROM request_text t WHERE t.tsv @@ plainto_tsquery('simple', :text))

-- How many requests match, counted no further than :cap (the conversation search's choice of
-- form, nexus/store/conversations.py).
-- name: search_match_count
SELECT count(*) AS n FROM (
    SELECT 1 FROM request_text t WHERE t.tsv @@ plainto_tsquery('simple', :text) LIMIT :cap
) m
