from __future__ import annotations

from nexus.usage.ratelimit import parse_ratelimit, parse_reset_ms, window_seconds

SUBSCRIPTION = (
    ("anthropic-ratelimit-unified-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-5h-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
    ("anthropic-ratelimit-unified-5h-reset", "1764000000"),
    ("Anthropic-Ratelimit-Unified-7d-Status", "allowed_warning"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.91"),
    ("anthropic-ratelimit-unified-7d-reset", "1764500000"),
    ("anthropic-ratelimit-unified-representative-claim", "seven_day"),
    ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
    ("anthropic-ratelimit-unified-reset", "1764500000"),
    ("anthropic-ratelimit-unified-overage-status", "rejected"),
    ("anthropic-ratelimit-unified-brand-new-thing", "x"),
    ("content-type", "text/event-stream"),
)

API_KEY = (
    ("anthropic-ratelimit-requests-limit", "4000"),
    ("anthropic-ratelimit-requests-remaining", "3999"),
    ("anthropic-ratelimit-requests-reset", "2025-11-24T10:00:05Z"),
    ("anthropic-ratelimit-input-tokens-limit", "2000000"),
    ("anthropic-ratelimit-input-tokens-remaining", "1500000"),
    ("anthropic-ratelimit-input-tokens-reset", "2025-11-24T10:00:01Z"),
    ("anthropic-ratelimit-output-tokens-limit", "400000"),
    ("anthropic-ratelimit-output-tokens-remaining", "400000"),
    ("anthropic-ratelimit-output-tokens-reset", "2025-11-24T10:00:00+00:00"),
    ("retry-after", "17"),
)


def test_subscription_headers_give_each_window_and_the_binding_claim() -> None:
    snap = parse_ratelimit(SUBSCRIPTION)
    assert snap.status == "allowed_warning"
    assert [w.name for w in snap.windows] == ["5h", "7d"]
    five = snap.window("5h")
    seven = snap.window("7d")
    assert five is not None and (five.status, five.utilization, five.reset_at_ms) == (
        "allowed",
        0.42,
        1_764_000_000_000,
    )
    assert seven is not None and seven.utilization == 0.91
    assert snap.representative_claim == "seven_day" and snap.binding_window == "7d"
    assert snap.fallback_percentage == 0.5
    assert snap.reset_at_ms == 1_764_500_000_000
    assert snap.overage_status == "rejected"
    assert snap.extra == (("anthropic-ratelimit-unified-brand-new-thing", "x"),)
    assert snap.has_unified and not snap.is_empty


def test_other_windows_such_as_per_model_weeks_are_kept() -> None:
    snap = parse_ratelimit(
        (
            ("anthropic-ratelimit-unified-7d_opus-utilization", "0.3"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.1"),
        )
    )
    assert [w.name for w in snap.windows] == ["5h", "7d_opus"]


def test_api_key_limits_and_retry_after() -> None:
    snap = parse_ratelimit(API_KEY)
    assert not snap.has_unified
    limits = {lim.name: lim for lim in snap.api_limits}
    assert set(limits) == {"requests", "input-tokens", "output-tokens"}
    assert limits["requests"].remaining == 3999
    assert limits["requests"].reset_at_ms == 1_763_978_405_000
    assert limits["input-tokens"].utilization == 0.25
    assert snap.retry_after_s == 17.0


def test_values_that_do_not_parse_become_none() -> None:
    snap = parse_ratelimit(
        (
            ("anthropic-ratelimit-unified-5h-utilization", "lots"),
            ("anthropic-ratelimit-unified-5h-reset", "soon"),
            ("anthropic-ratelimit-requests-limit", "NaN"),
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        )
    )
    five = snap.window("5h")
    assert five is not None and five.utilization is None and five.reset_at_ms is None
    assert snap.api_limits[0].limit is None
    assert snap.retry_after_s is None


def test_no_headers_is_empty() -> None:
    assert parse_ratelimit(()).is_empty


def test_reset_formats() -> None:
    assert parse_reset_ms("1764000000") == 1_764_000_000_000
    assert parse_reset_ms("1764000000123") == 1_764_000_000_123
    assert parse_reset_ms("2025-11-24T16:00:00Z") == 1_764_000_000_000
    assert parse_reset_ms("Mon, 24 Nov 2025 16:00:00 GMT") == 1_764_000_000_000
    assert parse_reset_ms("") is None and parse_reset_ms("0") is None


def test_window_lengths() -> None:
    assert window_seconds("5h") == 18_000
    assert window_seconds("7d_opus") == 604_800
    assert window_seconds("requests") is None
