-- Alerts sent, by deduplication key (docs/alerts.md): every process that sends alerts claims a key
-- here before sending, so replicas sharing one database send an alert once per cool-down, not once
-- each. Rows older than the longest cool-down are deleted by the next claim.
CREATE TABLE alert_sends (
    dedup_key   TEXT PRIMARY KEY,
    sent_at_ms  BIGINT NOT NULL
);
CREATE INDEX alert_sends_sent_at ON alert_sends (sent_at_ms);
