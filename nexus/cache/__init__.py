"""The cache ledger: which requests broke the prompt cache, why, and what each break cost.

Pure decisions in ``prompt.py`` (a request as the cache sees it), ``detect.py`` (did it break),
``explain.py`` (why) and ``price.py`` (what it cost); ``ledger.py`` runs them over the store, live
after linking and as ``nexus db rebuild-cache-ledger``; ``report.py`` is the ledger's JSON shape.
"""

from __future__ import annotations

from nexus.cache.detect import Expectation, Miss, detect, expect
from nexus.cache.explain import Finding, describe, find_cause
from nexus.cache.price import cache_efficiency, excess_cost_usd_micros
from nexus.cache.prompt import PromptPrint, Segment, print_prompt

__all__ = [
    "Expectation",
    "Finding",
    "Miss",
    "PromptPrint",
    "Segment",
    "cache_efficiency",
    "describe",
    "detect",
    "excess_cost_usd_micros",
    "expect",
    "find_cause",
    "print_prompt",
]
