"""Cache efficiency, as every usage row and total reports it (``cache_read_share``)."""

from __future__ import annotations

from nexus.usage.report import cache_read_share


def test_share_of_the_prompt_read_from_the_cache() -> None:
    tokens = {"input": 112, "cache_write_5m": 30, "cache_write_1h": 20, "cache_read": 1000}
    assert cache_read_share(tokens | {"output": 13}) == 0.8606  # docs/usage.md's example
    assert cache_read_share({**tokens, "cache_read": 0}) == 0.0
    zero = {"input": 0, "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 0, "output": 9}
    assert cache_read_share(zero) is None  # output alone is no prompt
