-- The conversation engine: one node per linked request, the keys later requests look up, and a
-- summary row per conversation kept up to date by the linker (lists never scan requests).
CREATE TABLE link_nodes (
    request_id         TEXT PRIMARY KEY,
    scope              TEXT NOT NULL,
    started_at_ms      BIGINT NOT NULL,
    traffic_class      TEXT NOT NULL,
    edge               TEXT NOT NULL,
    session_id         TEXT,
    agent_id           TEXT,
    conversation_id    TEXT,
    parent_request_id  TEXT,
    branch             TEXT,
    subtask_of         TEXT,
    task_ordinal       BIGINT,
    branch_start       BOOLEAN NOT NULL DEFAULT FALSE,
    task_count         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX link_nodes_conversation ON link_nodes (conversation_id, started_at_ms, request_id);
CREATE INDEX link_nodes_session ON link_nodes (scope, session_id, started_at_ms, request_id);
CREATE INDEX link_nodes_parent ON link_nodes (parent_request_id);
CREATE INDEX link_nodes_task ON link_nodes (subtask_of, task_ordinal) WHERE edge = 'task';

CREATE TABLE link_keys (
    scope          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    key            TEXT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    request_id     TEXT NOT NULL,
    ordinal        BIGINT NOT NULL DEFAULT 0,
    info           TEXT,
    PRIMARY KEY (scope, kind, key, started_at_ms, request_id, ordinal)
);
CREATE INDEX link_keys_request ON link_keys (request_id);

CREATE TABLE conversations (
    id                     TEXT PRIMARY KEY,
    host                   TEXT NOT NULL,
    account_id             TEXT,
    client_key_id          TEXT,
    session_id             TEXT,
    started_at_ms          BIGINT NOT NULL,
    last_at_ms             BIGINT NOT NULL,
    last_request_id        TEXT NOT NULL,
    request_count          BIGINT NOT NULL,
    class_counts           TEXT NOT NULL,
    branch_count           BIGINT NOT NULL,
    subtask_count          BIGINT NOT NULL,
    input_tokens           BIGINT NOT NULL,
    output_tokens          BIGINT NOT NULL,
    cache_creation_tokens  BIGINT NOT NULL,
    cache_read_tokens      BIGINT NOT NULL,
    cost_usd_micros        BIGINT NOT NULL,
    models                 TEXT NOT NULL,
    latest_context_tokens  BIGINT NOT NULL,
    latest_turn_id         TEXT,
    latest_turn_at_ms      BIGINT,
    title                  TEXT NOT NULL,
    last_user_preview      TEXT NOT NULL
);
CREATE INDEX conversations_last ON conversations (last_at_ms, id);
CREATE INDEX conversations_session ON conversations (session_id);
