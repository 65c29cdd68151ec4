-- Live feed (nexus/store/events.py): the events table read back in seq order.

-- name: events_after
SELECT e.seq, e.kind, e.ref_id, e.at_ms, {summary_columns}
FROM events e
LEFT JOIN requests r ON r.id = e.ref_id AND e.kind IN ('request', 'link', 'cache_break')
LEFT JOIN links l ON l.request_id = r.id
WHERE e.seq > :after_seq
ORDER BY e.seq
LIMIT :limit

-- name: events_last_seq
SELECT coalesce(max(seq), 0) AS seq FROM events
