"""How quantities read on screen."""

from __future__ import annotations

from nexus.tui import cells


def test_context_window_is_200k_unless_the_1m_beta_or_a_larger_context_says_otherwise() -> None:
    assert cells.context_window(("claude-opus-4-1",), 150_000) == 200_000
    assert cells.context_window(("claude-sonnet-4-5",), 150_000, uses_1m_beta=True) == 1_000_000
    assert cells.context_window(("claude-sonnet-4-5",), 250_000) == 1_000_000
    assert cells.context_window(("claude-sonnet-4-5[1m]",), 1_000) == 1_000_000


def test_model_names_lose_the_prefix_and_date() -> None:
    assert cells.short_model("claude-opus-4-1-20250805") == "opus-4-1"
    assert cells.short_model("claude-sonnet-4-5") == "sonnet-4-5"


def test_usage_buckets_cover_the_whole_span_oldest_first() -> None:
    from nexus.tui.usage_data import bucket_keys, series

    keys = bucket_keys("hour", 1_748_779_200_000, 3)  # 2025-06-01 12:00 UTC
    assert keys == ["2025-06-01T10", "2025-06-01T11", "2025-06-01T12"]
    doc = {
        "rows": [
            {
                "group": {"account": "a", "hour": "2025-06-01T11"},
                "tokens": {"total": 7},
                "cost_usd_micros": 2_000_000,
            }
        ]
    }
    data = series(doc, "hour", keys)
    assert data.tokens == {"a": [0, 7, 0]} and data.cost_usd == {"a": [0.0, 2.0, 0.0]}
