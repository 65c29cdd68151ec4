-- Full-text search over the user and assistant text each request added (nexus/store/search.py),
-- and the commit-order guarantee of the live feed.

-- One row per request (empty text when there is nothing to index: "indexed" is then an anti-join).
-- The 'simple' configuration neither stems nor drops stop words: code and names match as typed.
CREATE TABLE request_text (
    request_id  TEXT PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX request_text_tsv ON request_text USING GIN (tsv);

-- Live-feed readers resume after the last seq they saw, so seq order must be commit order. A
-- BIGSERIAL alone does not promise that: two writers can take seq 10 and 11 and commit 11 first, and
-- a reader that saw 11 would skip 10 forever. Every statement that adds events first takes this
-- transaction-level advisory lock (before any row takes its seq), so event-writing transactions
-- commit one after another in seq order. Writers need to know nothing about it.
CREATE FUNCTION nexus_events_serialize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7234017498823370581);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_in_commit_order
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_events_serialize();
