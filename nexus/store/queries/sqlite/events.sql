-- Live feed (events table) and full-text search. Owner: api area.

-- name: events_after
SELECT e.seq, e.kind, e.ref_id, e.at_ms, {summary_columns}
FROM events e
LEFT JOIN requests r ON r.id = e.ref_id AND e.kind IN ('request', 'link', 'cache_break')
LEFT JOIN links l ON l.request_id = r.id
WHERE e.seq > ?
ORDER BY e.seq
LIMIT ?

-- name: events_last_seq
SELECT coalesce(max(seq), 0) FROM events

-- The view's trigger adds the request_text row and indexes the text (0007_search_without_copy.sql).
-- name: search_text_insert
INSERT INTO request_text_in (request_id, text) VALUES (?, ?)

-- What a prune is about to delete from the index (SQLite only: see sqlite/events.py).
-- name: search_rows_before
SELECT t.id, t.request_id FROM request_text t JOIN requests r ON r.id = t.request_id
WHERE r.started_at_ms < ?
ORDER BY t.id
LIMIT ?

-- name: search_text_delete
INSERT INTO request_text_fts (request_text_fts, rowid, text) VALUES ('delete', ?, ?)

-- name: search_row_delete
DELETE FROM request_text WHERE id = ?

-- name: search_unindexed
SELECT r.id FROM requests r
WHERE NOT EXISTS (SELECT 1 FROM request_text t WHERE t.request_id = r.id)
ORDER BY r.id
LIMIT ?

-- name: search_indexed_ids
SELECT request_id FROM request_text WHERE request_id IN (SELECT value FROM json_each(?))

-- Every word of the query must occur (each is quoted, so FTS5 syntax in user input is inert).
-- name: filter_text
r.id IN (
    SELECT t.request_id FROM request_text t WHERE t.id IN (
        SELECT rowid FROM request_text_fts
        WHERE request_text_fts MATCH '"' || replace(replace(trim(?), '"', '""'), ' ', '" "') || '"'
    )
)

-- Matches newest-indexed first, a chunk at a time, below FTS rowid ? (see sqlite/events.py).
-- name: search_chunk
SELECT t.id, t.request_id, t.id_ceiling FROM request_text t
WHERE t.id IN (
    SELECT rowid FROM request_text_fts
    WHERE request_text_fts MATCH '"' || replace(replace(trim(?), '"', '""'), ' ', '" "') || '"'
      AND rowid < ?
    ORDER BY rowid DESC
    LIMIT ?
)
ORDER BY t.id DESC

-- name: filter_ids
r.id IN (SELECT value FROM json_each(?))
