-- Requests with their summary columns, content-addressed bodies, links and the event log.
CREATE TABLE requests (
    id                        TEXT PRIMARY KEY,
    started_at_ms             INTEGER NOT NULL,
    ended_at_ms               INTEGER NOT NULL,
    first_byte_at_ms          INTEGER,
    duration_ms               INTEGER NOT NULL,
    ttfb_ms                   INTEGER,
    method                    TEXT NOT NULL,
    path                      TEXT NOT NULL,
    query                     TEXT NOT NULL DEFAULT '',
    host                      TEXT NOT NULL,
    account_id                TEXT,
    client_key_id             TEXT,
    auth_mode                 TEXT NOT NULL,
    model                     TEXT,
    is_streaming              INTEGER NOT NULL DEFAULT 0,
    status                    INTEGER,
    outcome                   TEXT NOT NULL,
    error                     TEXT,
    session_id                TEXT,
    agent_id                  TEXT,
    parent_agent_id           TEXT,
    upstream_request_id       TEXT,
    input_tokens              INTEGER NOT NULL DEFAULT 0,
    output_tokens             INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_creation_5m_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_creation_1h_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens         INTEGER NOT NULL DEFAULT 0,
    cost_usd_micros           INTEGER,
    stop_reason               TEXT,
    user_preview              TEXT NOT NULL DEFAULT '',
    reply_preview             TEXT NOT NULL DEFAULT '',
    message_count             INTEGER NOT NULL DEFAULT 0,
    tool_count                INTEGER NOT NULL DEFAULT 0,
    tool_use_count            INTEGER NOT NULL DEFAULT 0,
    request_headers_hash      BLOB,
    response_headers          BLOB NOT NULL,
    ratelimit                 BLOB NOT NULL,
    body_skeleton             BLOB NOT NULL,
    messages_tail             BLOB,
    body_cuts                 BLOB NOT NULL,
    body_bytes                INTEGER NOT NULL,
    response_body             BLOB NOT NULL,
    response_codec            INTEGER NOT NULL DEFAULT 0,
    response_bytes            INTEGER NOT NULL,
    response_message          BLOB,
    written_at_ms             INTEGER NOT NULL
);
CREATE INDEX requests_started ON requests (started_at_ms);
CREATE INDEX requests_host ON requests (host, id);
CREATE INDEX requests_account ON requests (account_id, id);
CREATE INDEX requests_session ON requests (session_id, id);
CREATE INDEX requests_model ON requests (model, id);
CREATE INDEX requests_status ON requests (status, id);

-- Messages, system prompts, tool lists, header sets: stored once by the hash of their exact bytes.
CREATE TABLE blobs (
    hash   BLOB PRIMARY KEY,
    kind   TEXT NOT NULL,
    size   INTEGER NOT NULL,
    codec  INTEGER NOT NULL DEFAULT 0,
    data   BLOB NOT NULL
) WITHOUT ROWID;

-- One node per (history prefix, message): shared prefixes share nodes; branches fall out of the data.
CREATE TABLE message_nodes (
    id         BLOB PRIMARY KEY,
    parent_id  BLOB,
    blob_hash  BLOB NOT NULL,
    sep        BLOB NOT NULL
) WITHOUT ROWID;

-- Direct blob references of a request (system, tools, headers, whole body): what prune keeps alive.
CREATE TABLE request_blobs (
    request_id  TEXT NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (request_id, hash)
) WITHOUT ROWID;
CREATE INDEX request_blobs_hash ON request_blobs (hash);

CREATE TABLE links (
    request_id         TEXT PRIMARY KEY,
    traffic_class      TEXT NOT NULL,
    conversation_id    TEXT,
    parent_request_id  TEXT,
    branch             TEXT,
    subtask_of         TEXT,
    agent_id           TEXT,
    linked_at_ms       INTEGER NOT NULL
);
CREATE INDEX links_conversation ON links (conversation_id, request_id);
CREATE INDEX links_class ON links (traffic_class, request_id);

-- The live feed: one row per recorded request, link change or analysis change, in commit order.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    ref_id  TEXT NOT NULL,
    at_ms   INTEGER NOT NULL
);
