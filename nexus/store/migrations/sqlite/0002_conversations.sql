-- The conversation engine: one node per linked request, the keys later requests look up, and a
-- summary row per conversation kept up to date by the linker (lists never scan requests).
CREATE TABLE link_nodes (
    request_id         TEXT PRIMARY KEY,
    scope              TEXT NOT NULL,
    started_at_ms      INTEGER NOT NULL,
    traffic_class      TEXT NOT NULL,
    edge               TEXT NOT NULL,
    session_id         TEXT,
    agent_id           TEXT,
    conversation_id    TEXT,
    parent_request_id  TEXT,
    branch             TEXT,
    subtask_of         TEXT,
    task_ordinal       INTEGER,
    branch_start       INTEGER NOT NULL DEFAULT 0,
    task_count         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX link_nodes_conversation ON link_nodes (conversation_id, started_at_ms, request_id);
CREATE INDEX link_nodes_session ON link_nodes (scope, session_id, started_at_ms, request_id);
CREATE INDEX link_nodes_parent ON link_nodes (parent_request_id);
CREATE INDEX link_nodes_task ON link_nodes (subtask_of, task_ordinal) WHERE edge = 'task';

CREATE TABLE link_keys (
    scope          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    key            TEXT NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    ordinal        INTEGER NOT NULL DEFAULT 0,
    info           TEXT,
    PRIMARY KEY (scope, kind, key, started_at_ms, request_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX link_keys_request ON link_keys (request_id);

CREATE TABLE conversations (
    id                     TEXT PRIMARY KEY,
    host                   TEXT NOT NULL,
    account_id             TEXT,
    client_key_id          TEXT,
    session_id             TEXT,
    started_at_ms          INTEGER NOT NULL,
    last_at_ms             INTEGER NOT NULL,
    last_request_id        TEXT NOT NULL,
    request_count          INTEGER NOT NULL,
    class_counts           TEXT NOT NULL,
    branch_count           INTEGER NOT NULL,
    subtask_count          INTEGER NOT NULL,
    input_tokens           INTEGER NOT NULL,
    output_tokens          INTEGER NOT NULL,
    cache_creation_tokens  INTEGER NOT NULL,
    cache_read_tokens      INTEGER NOT NULL,
    cost_usd_micros        INTEGER NOT NULL,
    models                 TEXT NOT NULL,
    latest_context_tokens  INTEGER NOT NULL,
    latest_turn_id         TEXT,
    latest_turn_at_ms      INTEGER,
    title                  TEXT NOT NULL,
    last_user_preview      TEXT NOT NULL
);
CREATE INDEX conversations_last ON conversations (last_at_ms, id);
CREATE INDEX conversations_session ON conversations (session_id);
