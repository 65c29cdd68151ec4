"""``nexus.redact``: by name, by known value, by shape; queries keep their other bytes."""

from __future__ import annotations

import logging

from nexus.redact import (
    REDACTED,
    LogRedaction,
    redact_headers,
    redact_query,
    redact_text,
    remember_secrets,
    secret_values,
)


def test_a_remembered_secret_is_redacted_in_any_text_even_without_a_key_shape() -> None:
    remember_secrets("plain-refresh-value-0007", None, "short")
    assert redact_text("error: plain-refresh-value-0007 rejected") == f"error: {REDACTED} rejected"
    assert redact_text("short words stay") == "short words stay"


def test_headers_are_redacted_by_name_by_the_requests_own_credentials_and_by_shape() -> None:
    sent = (
        ("x-api-key", "client-own-key-123456"), ("X-Custom-Auth", "abc"),
        ("x-echo", "client-own-key-123456"), ("x-hop", "bearer abcdefghijklmnopqrstu"),
        ("anthropic-ratelimit-tokens-limit", "100"), ("x-claude-code-session-id", "s-1"),
    )  # fmt: skip
    assert redact_headers(sent, secret_values(sent)) == (
        ("x-api-key", REDACTED), ("X-Custom-Auth", REDACTED), ("x-echo", REDACTED),
        ("x-hop", f"bearer {REDACTED}"), ("anthropic-ratelimit-tokens-limit", "100"),
        ("x-claude-code-session-id", "s-1"),
    )  # fmt: skip


def test_a_query_loses_its_credentials_and_keeps_every_other_byte() -> None:
    query = "beta=true&api_key=abc&access_token=x&q=a%2Fb+c&k=sk-ant-api03-aaaaaaaaaaaa&n="
    assert redact_query(query) == (
        f"beta=true&api_key={REDACTED}&access_token={REDACTED}&q=a%2Fb+c&k={REDACTED}&n="
    )


def test_log_lines_are_redacted() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "key %s", ("sk-ant-api03-zzzzzzzzzz",), None
    )
    assert LogRedaction().filter(record) and record.getMessage() == f"key {REDACTED}"
