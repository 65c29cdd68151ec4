-- Requests on Postgres: only what differs from common/requests.sql.

-- name: stats_size
SELECT pg_database_size(current_database()) AS bytes

-- name: cache_break_array
json_build_array
