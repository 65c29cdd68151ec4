-- Records the recorder could not derive or store after a few attempts (nexus/store/dead_letters.py):
-- kept with their error and their spool frame, exactly as spooled, so `nexus db retry-dead-letters`
-- can try them again. The recorder moves on: one bad record never stops the others.
CREATE TABLE dead_letters (
    id            TEXT PRIMARY KEY,  -- the exchange's id (the request id it would have had)
    failed_at_ms  BIGINT NOT NULL,
    attempts      INTEGER NOT NULL,
    stage         TEXT NOT NULL,     -- derive | store | crash (the recorder process died on it)
    error         TEXT NOT NULL,
    frame_bytes   BIGINT NOT NULL,
    codec         SMALLINT NOT NULL DEFAULT 0,
    frame         BYTEA NOT NULL
);

-- Which database this is, whatever URL reaches it: spool folders carry it, and a recorder adopts
-- only the folders of its own database.
CREATE TABLE database_identity (id TEXT PRIMARY KEY);
INSERT INTO database_identity VALUES (replace(gen_random_uuid()::text, '-', ''));
