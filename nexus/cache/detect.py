"""Whether a request broke the prompt cache: what it could have read, and what it fell short by.

A request R is compared with its predecessor P on the same line of work: the previous successful
request of the same agent in the same conversation branch (the first request of a rewind branch
continues the line it rewound; a sub-agent's first call, a compaction's continuation and a forked
session start a line and have none). Finding P needs the store (``nexus.cache.ledger``); this
module decides from two prints.

P left cache entries at its breakpoints, the last one covering ``cache_read + cache_creation`` of
P's own usage. The cacheable prefix of R is P's prefix up to P's last breakpoint that R's prompt
reaches (R has at least that many segments); its size in tokens comes from P's usage, scaled by
bytes when it is shorter than P's whole cached prefix. R *broke* the cache when its
``cache_read_input_tokens`` falls short of that by more than a small tolerance; the shortfall is
the missed tokens. Why it fell short is ``explain.py``'s question, what it cost ``price.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus.cache.prompt import PromptPrint

TOLERANCE_TOKENS = 256
TOLERANCE_SHARE = 0.01  # of the cacheable prefix: byte-to-token scaling is not exact
TTL_5M_MS = 5 * 60_000
TTL_1H_MS = 60 * 60_000


@dataclass(frozen=True, slots=True)
class Expectation:
    """What R could have read from the entries P left."""

    end: int  # segments of the cacheable prefix (0: nothing)
    tokens: int
    ttl_ms: int  # the lifetime the breakpoint at ``end`` asked for in P


@dataclass(frozen=True, slots=True)
class Miss:
    expected: Expectation
    read_tokens: int
    missed_tokens: int


def cached_tokens(p: PromptPrint) -> int:
    """Tokens P's cache entry covers after P: what it read plus what it wrote."""
    return p.usage.cache_read_input_tokens + p.usage.cache_creation_input_tokens


def expect(p: PromptPrint, r: PromptPrint) -> Expectation:
    ends = p.breakpoint_ends
    covered = cached_tokens(p)
    if not ends or covered <= 0:
        return Expectation(0, 0, TTL_5M_MS)
    last = ends[-1]
    reachable = [e for e in ends if e <= len(r.segments)]
    if not reachable:
        return Expectation(0, 0, TTL_5M_MS)
    end = reachable[-1]
    if end == last:
        tokens = covered
    else:  # a shorter prefix: P's tokens per byte carry over
        whole = p.prefix_bytes(last)
        tokens = covered * p.prefix_bytes(end) // whole if whole else 0
    ttl = p.segments[end - 1].breakpoint
    return Expectation(end, tokens, TTL_1H_MS if ttl == "1h" else TTL_5M_MS)


def tolerance(expected_tokens: int) -> int:
    return max(TOLERANCE_TOKENS, int(expected_tokens * TOLERANCE_SHARE))


def detect(p: PromptPrint, r: PromptPrint) -> Miss | None:
    """The miss of R against P, or None when R read (about) all it could."""
    expected = expect(p, r)
    read = r.usage.cache_read_input_tokens
    missed = expected.tokens - read
    if expected.tokens <= 0 or missed <= tolerance(expected.tokens):
        return None
    return Miss(expected, read, missed)
