"""How quantities read on screen."""

from __future__ import annotations

import pytest

from nexus.tui import cells


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (999, "999"), (1234, "1.2k"), (45_678, "45k"), (1_234_567, "1.2M"), (None, "–")],
)
def test_tokens(n: int | None, text: str) -> None:
    assert cells.tokens(n) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [(None, "–"), (0, "$0"), (4_200, "$0.0042"), (123_456, "$0.12"), (250_000_000, "$250")],
)
def test_cost_shows_unpriced_as_a_dash_never_zero(micros: int | None, text: str) -> None:
    assert cells.cost(micros) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(850, "850ms"), (12_300, "12.3s"), (125_000, "2m05s"), (3_900_000, "1h05m")]
)
def test_duration(ms: int, text: str) -> None:
    assert cells.duration(ms) == text


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
