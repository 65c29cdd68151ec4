-- Cache ledger area (nexus/store/cache_ledger.py): break rows, a request's line of work, reports.

-- A request's neighbours on its line of work (same conversation, branch and agent; turns,
-- sub-agent calls and compactions): 'p' the latest 2xx one before the position, 's' the first
-- one after it. One round trip: the recorder asks for both on every record.
-- name: cache_neighbours
SELECT 'p' AS side, id FROM (
    SELECT r.id
    FROM links l JOIN requests r ON r.id = l.request_id
    WHERE l.conversation_id = :conversation_id AND l.branch = :branch AND {cache_same_agent}
      AND l.traffic_class IN ('turn', 'subagent', 'compaction')
      AND r.status >= 200 AND r.status < 300
      AND (r.started_at_ms < :at_ms OR (r.started_at_ms = :at_ms AND r.id < :request_id))
    ORDER BY r.started_at_ms DESC, r.id DESC
    LIMIT 1
) AS before_it
UNION ALL
SELECT 's' AS side, id FROM (
    SELECT r.id
    FROM links l JOIN requests r ON r.id = l.request_id
    WHERE l.conversation_id = :conversation_id AND l.branch = :branch AND {cache_same_agent}
      AND l.traffic_class IN ('turn', 'subagent', 'compaction')
      AND (r.started_at_ms > :at_ms OR (r.started_at_ms = :at_ms AND r.id > :request_id))
    ORDER BY r.started_at_ms, r.id
    LIMIT 1
) AS after_it

-- name: cache_same_agent
l.agent_id IS NOT DISTINCT FROM :agent_id

-- name: cache_branch_of
SELECT branch FROM links WHERE request_id = :request_id

-- name: cache_break_cause
SELECT cause FROM cache_breaks WHERE request_id = :request_id

-- name: cache_break_delete
DELETE FROM cache_breaks WHERE request_id = :request_id

-- name: cache_break_insert
INSERT INTO cache_breaks (request_id, predecessor_id, started_at_ms, cause, detail,
                          expected_tokens, read_tokens, missed_tokens, excess_cost_usd_micros)
VALUES (:request_id, :predecessor_id, :started_at_ms, :cause, :detail,
        :expected_tokens, :read_tokens, :missed_tokens, :excess_cost_usd_micros)

-- name: cache_breaks_clear
DELETE FROM cache_breaks

-- name: cache_breaks_prune
DELETE FROM cache_breaks WHERE started_at_ms < :before_ms

-- The list and the totals take their WHERE from the request filters (nexus/filters.py): {where}
-- and {group} are filled by the area.
-- name: cache_breaks_list
SELECT b.request_id, b.started_at_ms, b.cause, b.detail, b.missed_tokens,
       b.excess_cost_usd_micros, b.expected_tokens, b.read_tokens, b.predecessor_id,
       r.session_id, {usage_account} AS account, r.model, l.conversation_id
FROM cache_breaks b
JOIN requests r ON r.id = b.request_id
LEFT JOIN links l ON l.request_id = r.id
{where}
ORDER BY r.id DESC
LIMIT :limit

-- name: cache_breaks_totals
SELECT {group} AS grp, COUNT(*) AS breaks, SUM(b.missed_tokens) AS missed_tokens,
       SUM(COALESCE(b.excess_cost_usd_micros, 0)) AS excess_cost_usd_micros,
       SUM(CASE WHEN b.excess_cost_usd_micros IS NULL THEN 1 ELSE 0 END) AS unpriced_breaks
FROM cache_breaks b
JOIN requests r ON r.id = b.request_id
LEFT JOIN links l ON l.request_id = r.id
{where}
GROUP BY 1
