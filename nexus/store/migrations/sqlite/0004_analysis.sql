-- Analysis jobs: one per (conversation, branch, prompt version), claimed by workers, kept when done.
CREATE TABLE analysis_jobs (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    branch           TEXT NOT NULL,
    prompt_version   TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    run_after_ms     INTEGER NOT NULL,
    started_at_ms    INTEGER,
    finished_at_ms   INTEGER,
    claim_token      TEXT,
    error            TEXT,
    model            TEXT,
    input_tokens     INTEGER NOT NULL DEFAULT 0,
    output_tokens    INTEGER NOT NULL DEFAULT 0,
    result_json      TEXT,
    markdown         TEXT,
    UNIQUE (conversation_id, branch, prompt_version)
);
CREATE INDEX analysis_jobs_claim ON analysis_jobs (state, run_after_ms, created_at_ms);
CREATE INDEX analysis_jobs_created ON analysis_jobs (created_at_ms);
