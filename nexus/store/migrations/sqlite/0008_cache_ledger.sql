-- The cache ledger (nexus/cache/): one row per request that broke the prompt cache, with its
-- cause and cost. A request its ledger found no break for has no row; the rows are recomputed
-- by nexus db rebuild-cache-ledger, so nothing else refers to them.
CREATE TABLE cache_breaks (
    request_id              TEXT PRIMARY KEY,
    predecessor_id          TEXT NOT NULL,
    started_at_ms           INTEGER NOT NULL,
    cause                   TEXT NOT NULL,
    detail                  TEXT NOT NULL,
    expected_tokens         INTEGER NOT NULL,
    read_tokens             INTEGER NOT NULL,
    missed_tokens           INTEGER NOT NULL,
    excess_cost_usd_micros  INTEGER
);
CREATE INDEX cache_breaks_started ON cache_breaks (started_at_ms);
-- The ledger finds a request's predecessor among the requests of its branch.
CREATE INDEX links_line ON links (conversation_id, branch);
