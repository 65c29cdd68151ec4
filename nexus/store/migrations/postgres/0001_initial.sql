-- Requests with their summary columns, content-addressed bodies, links and the event log.
CREATE TABLE requests (
    id                        TEXT PRIMARY KEY,
    started_at_ms             BIGINT NOT NULL,
    ended_at_ms               BIGINT NOT NULL,
    first_byte_at_ms          BIGINT,
    duration_ms               BIGINT NOT NULL,
    ttfb_ms                   BIGINT,
    method                    TEXT NOT NULL,
    path                      TEXT NOT NULL,
    query                     TEXT NOT NULL DEFAULT '',
    host                      TEXT NOT NULL,
    account_id                TEXT,
    client_key_id             TEXT,
    auth_mode                 TEXT NOT NULL,
    model                     TEXT,
    is_streaming              BOOLEAN NOT NULL DEFAULT FALSE,
    status                    INTEGER,
    outcome                   TEXT NOT NULL,
    error                     TEXT,
    session_id                TEXT,
    agent_id                  TEXT,
    parent_agent_id           TEXT,
    upstream_request_id       TEXT,
    input_tokens              BIGINT NOT NULL DEFAULT 0,
    output_tokens             BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens     BIGINT NOT NULL DEFAULT 0,
    cache_creation_5m_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_creation_1h_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens         BIGINT NOT NULL DEFAULT 0,
    cost_usd_micros           BIGINT,
    stop_reason               TEXT,
    user_preview              TEXT NOT NULL DEFAULT '',
    reply_preview             TEXT NOT NULL DEFAULT '',
    message_count             BIGINT NOT NULL DEFAULT 0,
    tool_count                BIGINT NOT NULL DEFAULT 0,
    tool_use_count            BIGINT NOT NULL DEFAULT 0,
    request_headers_hash      BYTEA,
    response_headers          BYTEA NOT NULL,
    ratelimit                 BYTEA NOT NULL,
    body_skeleton             BYTEA NOT NULL,
    messages_tail             BYTEA,
    body_cuts                 BYTEA NOT NULL,
    body_bytes                BIGINT NOT NULL,
    response_body             BYTEA NOT NULL,
    response_codec            SMALLINT NOT NULL DEFAULT 0,
    response_bytes            BIGINT NOT NULL,
    response_message          BYTEA,
    written_at_ms             BIGINT NOT NULL
);
CREATE INDEX requests_started ON requests (started_at_ms);
CREATE INDEX requests_host ON requests (host, id);
CREATE INDEX requests_account ON requests (account_id, id);
CREATE INDEX requests_session ON requests (session_id, id);
CREATE INDEX requests_model ON requests (model, id);
CREATE INDEX requests_status ON requests (status, id);

-- Messages, system prompts, tool lists, header sets: stored once by the hash of their exact bytes.
CREATE TABLE blobs (
    hash   BYTEA PRIMARY KEY,
    kind   TEXT NOT NULL,
    size   BIGINT NOT NULL,
    codec  SMALLINT NOT NULL DEFAULT 0,
    data   BYTEA NOT NULL
);

-- One node per (history prefix, message): shared prefixes share nodes; branches fall out of the data.
CREATE TABLE message_nodes (
    id         BYTEA PRIMARY KEY,
    parent_id  BYTEA,
    blob_hash  BYTEA NOT NULL,
    sep        BYTEA NOT NULL
);

-- Direct blob references of a request (system, tools, headers, whole body): what prune keeps alive.
CREATE TABLE request_blobs (
    request_id  TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    PRIMARY KEY (request_id, hash)
);
CREATE INDEX request_blobs_hash ON request_blobs (hash);

CREATE TABLE links (
    request_id         TEXT PRIMARY KEY,
    traffic_class      TEXT NOT NULL,
    conversation_id    TEXT,
    parent_request_id  TEXT,
    branch             TEXT,
    subtask_of         TEXT,
    agent_id           TEXT,
    linked_at_ms       BIGINT NOT NULL
);
CREATE INDEX links_conversation ON links (conversation_id, request_id);
CREATE INDEX links_class ON links (traffic_class, request_id);

-- The live feed: one row per recorded request, link change or analysis change, in commit order.
CREATE TABLE events (
    seq     BIGSERIAL PRIMARY KEY,
    kind    TEXT NOT NULL,
    ref_id  TEXT NOT NULL,
    at_ms   BIGINT NOT NULL
);
