-- Live feed (events table) and full-text search. Owner: api area.

-- name: events_after
SELECT e.seq, e.kind, e.ref_id, e.at_ms, {summary_columns}
FROM events e
LEFT JOIN requests r ON r.id = e.ref_id AND e.kind IN ('request', 'link', 'cache_break')
LEFT JOIN links l ON l.request_id = r.id
WHERE e.seq > $1
ORDER BY e.seq
LIMIT $2

-- name: events_last_seq
SELECT coalesce(max(seq), 0) FROM events

-- name: search_text_insert
INSERT INTO request_text (request_id, tsv) VALUES ($1, to_tsvector('simple', $2))
ON CONFLICT (request_id) DO NOTHING

-- name: search_unindexed
SELECT r.id FROM requests r
WHERE NOT EXISTS (SELECT 1 FROM request_text t WHERE t.request_id = r.id)
ORDER BY r.id
LIMIT $1

-- name: search_indexed_ids
SELECT request_id FROM request_text WHERE request_id = ANY($1::text[])

-- Every word of the query must occur; plainto_tsquery ignores operators typed by users.
-- (Filter fragments use ? placeholders in both dialects; store/filters.py numbers them.)
-- name: filter_text
r.id IN (SELECT t.request_id FROM request_text t WHERE t.tsv @@ plainto_tsquery('simple', ?))
