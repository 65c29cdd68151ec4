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

Deciding reads outlines (``prompt.PromptOutline``: segment count, breakpoints, usage); only the
scaling by bytes needs P's print (``needs_sizes``), which is rare: R shorter than P's last breakpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nexus.cache.prompt import PromptPrint
from nexus.records import Usage

TOLERANCE_TOKENS = 256
TOLERANCE_SHARE = 0.01  # of the cacheable prefix: byte-to-token scaling is not exact
TTL_5M_MS = 5 * 60_000
TTL_1H_MS = 60 * 60_000


class Outlined(Protocol):
    """What detection reads of a request: a ``PromptOutline`` or a whole ``PromptPrint``."""

    @property
    def usage(self) -> Usage: ...

    @property
    def segment_count(self) -> int: ...

    @property
    def breakpoint_ends(self) -> list[int]: ...

    def ttl_at(self, end: int) -> str | None: ...


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


def cached_tokens(p: Outlined) -> int:
    """Tokens P's cache entry covers after P: what it read plus what it wrote."""
    return p.usage.cache_read_input_tokens + p.usage.cache_creation_input_tokens


def _reach(p: Outlined, r: Outlined) -> tuple[int, int]:
    """The prefix (in segments) R could read: P's last breakpoint R's prompt reaches (0: none),
    and P's last breakpoint."""
    ends = p.breakpoint_ends
    if not ends or cached_tokens(p) <= 0:
        return 0, 0
    reachable = [e for e in ends if e <= r.segment_count]
    return (reachable[-1] if reachable else 0), ends[-1]


def needs_sizes(p: Outlined, r: Outlined) -> bool:
    """Whether ``expect`` scales P's tokens by bytes, so needs P's print (``sizes``)."""
    end, last = _reach(p, r)
    return 0 < end < last


def expect(p: Outlined, r: Outlined, sizes: PromptPrint | None = None) -> Expectation:
    """``sizes``: P's print, when ``p`` is only its outline and ``needs_sizes``."""
    end, last = _reach(p, r)
    if not end:
        return Expectation(0, 0, TTL_5M_MS)
    covered = cached_tokens(p)
    if end == last:
        tokens = covered
    else:  # a shorter prefix: P's tokens per byte carry over
        printed = sizes if sizes is not None else p
        if not isinstance(printed, PromptPrint):
            raise TypeError("scaling by bytes needs P's print: pass sizes (see needs_sizes)")
        whole = printed.prefix_bytes(last)
        tokens = covered * printed.prefix_bytes(end) // whole if whole else 0
    ttl = p.ttl_at(end)
    return Expectation(end, tokens, TTL_1H_MS if ttl == "1h" else TTL_5M_MS)


def tolerance(expected_tokens: int) -> int:
    return max(TOLERANCE_TOKENS, int(expected_tokens * TOLERANCE_SHARE))


def detect(p: Outlined, r: Outlined, sizes: PromptPrint | None = None) -> Miss | None:
    """The miss of R against P, or None when R read (about) all it could."""
    expected = expect(p, r, sizes)
    read = r.usage.cache_read_input_tokens
    missed = expected.tokens - read
    if expected.tokens <= 0 or missed <= tolerance(expected.tokens):
        return None
    return Miss(expected, read, missed)
