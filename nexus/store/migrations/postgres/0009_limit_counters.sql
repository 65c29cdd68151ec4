-- Limit counters (docs/limits.md): what each replica recorded per scope ("client:alice@host",
-- "host:team.example", "account:acme", "session:<id>") and fixed window (minute, hour, day, month).
-- The recorder adds each stored call to its rows; every proxy reads the rows that changed since its
-- last look (updated_at_ms, the database's clock) about once a second and decides from memory.
CREATE TABLE limit_counters (
    scope            TEXT NOT NULL,
    kind             TEXT NOT NULL,     -- minute | hour | day | month
    start_ms         BIGINT NOT NULL,
    replica          TEXT NOT NULL,     -- the proxy process that admitted the calls
    end_ms           BIGINT NOT NULL,
    requests         BIGINT NOT NULL DEFAULT 0,
    tokens           BIGINT NOT NULL DEFAULT 0,  -- input + output
    cost_usd_micros  BIGINT NOT NULL DEFAULT 0,
    last_at_ms       BIGINT NOT NULL DEFAULT 0,  -- start of the latest call counted
    updated_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (scope, kind, start_ms, replica)
);
CREATE INDEX limit_counters_updated ON limit_counters (updated_at_ms);
