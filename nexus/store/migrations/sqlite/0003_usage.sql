-- Usage reports and rate-limit windows read only these columns: a covering index keeps a report
-- over every request from reading the wide rows (bodies, headers) at all.
CREATE INDEX requests_usage ON requests (
    started_at_ms, id, account_id, client_key_id, host, model, session_id, status,
    input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
    cache_creation_1h_tokens, cache_read_tokens, cost_usd_micros
);

-- Requests whose response carried rate-limit headers ("[]" when none), newest per account.
CREATE INDEX requests_ratelimited ON requests (started_at_ms) WHERE length(ratelimit) > 2;

-- The same requests by account (as USAGE_GROUPS defines it): the newest reading of each account
-- is a few index probes, however long the history.
CREATE INDEX requests_ratelimited_account ON requests (
    (COALESCE(account_id, 'key:' || client_key_id, 'host:' || host)), started_at_ms
) WHERE length(ratelimit) > 2;
