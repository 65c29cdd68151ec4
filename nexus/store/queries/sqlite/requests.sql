-- Requests on SQLite: only what differs from common/requests.sql.

-- name: stats_size
SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()
