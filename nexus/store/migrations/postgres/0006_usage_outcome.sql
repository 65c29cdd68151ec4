-- Usage reports count a 200 whose stream ended in an error event as an error (outcome
-- 'stream_error'): the covering index carries the outcome so a report still never reads wide rows.
DROP INDEX requests_usage;
CREATE INDEX requests_usage ON requests (started_at_ms) INCLUDE (
    id, account_id, client_key_id, host, model, session_id, status, outcome,
    input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
    cache_creation_1h_tokens, cache_read_tokens, cost_usd_micros
);
