-- Full-text search (nexus/store/search_index.py): what each dialect's index is fed and matched by
-- is in <dialect>/search.sql ({search_match} is the WHERE fragment over r.id with :text).

-- name: search_unindexed
SELECT r.id FROM requests r
WHERE NOT EXISTS (SELECT 1 FROM request_text t WHERE t.request_id = r.id)
ORDER BY r.id
LIMIT :limit

-- name: search_indexed_ids
SELECT request_id FROM request_text WHERE request_id = ANY(:ids)
