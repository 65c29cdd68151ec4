-- Conversations on SQLite: only what differs from common/conversations.sql.

-- SQLite has IS DISTINCT FROM only since 3.39; its IS NOT means the same.
-- name: is_distinct
IS NOT
