-- Full-text search on SQLite: a contentless FTS5 index (migration 0007), paged by
-- nexus/store/sqlite/search.py.

-- The view's trigger adds the request_text row and indexes the text (0007_search_without_copy.sql).
-- name: search_text_insert
INSERT INTO request_text_in (request_id, text) VALUES (:request_id, :text)

-- Every word of the query must occur (each is quoted, so FTS5 syntax in user input is inert).
-- name: fts_query
'"' || replace(replace(trim(:text), '"', '""'), ' ', '" "') || '"'

-- name: search_match
r.id IN (
    SELECT t.request_id FROM request_text t WHERE t.id IN (
        SELECT rowid FROM request_text_fts WHERE request_text_fts MATCH {fts_query}
    )
)

-- How many requests match, counted no further than :cap (the conversation search's choice of
-- form, nexus/store/conversations.py).
-- name: search_match_count
SELECT count(*) AS n FROM (
    SELECT 1 FROM request_text_fts WHERE request_text_fts MATCH {fts_query} LIMIT :cap
) m

-- Matches newest-indexed first, a chunk at a time, below FTS rowid :below.
-- name: search_chunk
SELECT t.id, t.request_id, t.id_ceiling FROM request_text t
WHERE t.id IN (
    SELECT rowid FROM request_text_fts
    WHERE request_text_fts MATCH {fts_query} AND rowid < :below
    ORDER BY rowid DESC
    LIMIT :chunk
)
ORDER BY t.id DESC

-- name: search_match_ids
r.id = ANY(:match_ids)

-- What a prune is about to delete from the index.
-- name: search_rows_before
SELECT t.id, t.request_id FROM request_text t JOIN requests r ON r.id = t.request_id
WHERE r.started_at_ms < :before
ORDER BY t.id
LIMIT :limit

-- name: search_text_delete
INSERT INTO request_text_fts (request_text_fts, rowid, text) VALUES ('delete', :id, :text)

-- name: search_row_delete
DELETE FROM request_text WHERE id = :id
