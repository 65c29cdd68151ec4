from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from nexus.errors import ConfigError
from nexus.usage.prices import ModelKey, builtin_price_book, load_price_book, parse_model_id


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("claude-opus-4-8", ModelKey("opus", 4, 8)),
        ("claude-opus-4-20250514", ModelKey("opus", 4, 0)),
        ("claude-opus-4-1-20250805", ModelKey("opus", 4, 1)),
        ("claude-sonnet-4-5-20250929", ModelKey("sonnet", 4, 5)),
        ("claude-haiku-4-5", ModelKey("haiku", 4, 5)),
        ("claude-3-5-haiku-20241022", ModelKey("haiku", 3, 5)),
        ("claude-3-7-sonnet-latest", ModelKey("sonnet", 3, 7)),
        ("claude-3-opus-20240229", ModelKey("opus", 3, 0)),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", ModelKey("sonnet", 4, 0)),
        ("claude-sonnet-4-5@20250929", ModelKey("sonnet", 4, 5)),
        ("claude-sonnet-4-6[1m]", ModelKey("sonnet", 4, 6)),
        ("Claude-Opus-4-5", ModelKey("opus", 4, 5)),
        ("gpt-4o", None),
        ("claude-2.1", None),
    ],
)
def test_model_ids_reduce_to_family_and_version(model: str, key: ModelKey | None) -> None:
    assert parse_model_id(model) == key


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("claude-opus-4-8", "claude-opus-4-5"),  # later 4.x fall under the 4.5 step
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4"),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-3-haiku-20240307", "claude-3-haiku"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-opus-20240229", "claude-3-opus"),
    ],
)
def test_models_match_their_family_entry(model: str, entry: str) -> None:
    found = builtin_price_book().entry_for(model)
    assert found is not None and found.match == entry


@pytest.mark.parametrize("model", ["gpt-4o", "claude-opus-9", "claude-haiku-4", "", None])
def test_models_outside_the_book_have_no_entry(model: str | None) -> None:
    assert builtin_price_book().entry_for(model) is None


def test_shipped_book_has_standard_cache_multipliers_for_claude_4() -> None:
    for model in ("claude-opus-4-8", "claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"):
        rates = builtin_price_book().price_at(model, 1_764_000_000_000).rates  # type: ignore[union-attr]
        assert rates.cache_write_5m == rates.input * Decimal("1.25")
        assert rates.cache_write_1h == rates.input * 2
        assert rates.cache_read == rates.input * Decimal("0.1")


def test_dated_prices_apply_from_their_date(tmp_path: Path) -> None:
    book = builtin_price_book()
    before = book.price_at("claude-sonnet-5-5", _ms("2026-10-06T23:59:59"))
    after = book.price_at("claude-sonnet-5-5", _ms("2026-10-07T00:00:00"))
    assert before is not None and before.rates.cache_read == Decimal("0.20")
    assert after is not None and after.rates.cache_read == Decimal("0.10")


def test_user_file_replaces_an_entry_and_adds_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        """{"models": [
          {"match": "claude-opus-4-5", "prices": [
            {"from": "2025-11-24", "input": 5, "cache_write_5m": 6.25, "cache_write_1h": 10,
             "cache_read": 0.5, "output": 25},
            {"from": "2027-01-01", "input": 1, "cache_write_5m": 1.25, "cache_write_1h": 2,
             "cache_read": 0.1, "output": 5}]},
          {"match": "my-local-model", "prices": [
            {"from": "2020-01-01", "input": 0, "cache_write_5m": 0, "cache_write_1h": 0,
             "cache_read": 0, "output": 0}]}
        ]}"""
    )
    book = load_price_book(path)
    assert book.price_at("claude-opus-4-8", _ms("2027-01-02T00:00:00")).rates.input == 1  # type: ignore[union-attr]
    assert book.price_at("claude-opus-4-8", _ms("2026-01-02T00:00:00")).rates.input == 5  # type: ignore[union-attr]
    assert book.entry_for("my-local-model-v2").match == "my-local-model"  # type: ignore[union-attr]
    assert book.entry_for("claude-sonnet-4-5") is not None  # shipped entries stay
    assert book.digest != builtin_price_book().digest


def test_unreadable_or_invalid_user_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_price_book(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"match": "x", "prices": [{"from": "2025-01-01", "input": 1}]}]}')
    with pytest.raises(ConfigError):
        load_price_book(bad)


def _ms(iso: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)
