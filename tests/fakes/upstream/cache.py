"""A prompt cache that behaves like the Messages API's, for tests of what Nexus says about caching.

How the real API caches (Anthropic's prompt-caching guide): the prompt is read as one sequence of
content blocks, tools first, then system, then messages. A ``cache_control`` mark on a block asks
for the prefix that ends with that block to be cached, for 5 minutes or, with ``"ttl": "1h"``, for
an hour. A later request reads the longest cached prefix it shares, looking for an entry at its own
breakpoints and at most 20 blocks before each; a read refreshes the entry's lifetime. The model is
part of every key; a change of ``thinking`` or ``tool_choice`` invalidates the message part only.
Usage then splits the prompt into ``cache_read_input_tokens`` (the prefix read),
``cache_creation_input_tokens`` (from there to the last breakpoint, written now, split by the TTL
of the breakpoint that closes each stretch into ``ephemeral_5m_input_tokens`` and
``ephemeral_1h_input_tokens``) and ``input_tokens`` (what follows the last breakpoint).

The fake's own choices, fixed so that a test can compute every number by hand:

- **Tokens from bytes.** One token per ``TOKEN_BYTES`` (4) bytes, counted over prefixes rather than
  per block: the prefix that ends at block *i* holds ``cumulative_bytes(i) // TOKEN_BYTES`` tokens
  and the whole prompt ``max(1, total_bytes // TOKEN_BYTES)``, so read + written + input always add
  up to the whole prompt's count. A block's bytes are its JSON
  as sent (key order kept, ``cache_control`` removed), a message block prefixed by its role and a
  colon. A string ``system`` or message ``content`` counts as one text block.
- **Minimum size.** A breakpoint whose prefix holds fewer than ``min_tokens`` tokens is not cached
  (the real API's minimum is 1024 tokens for most models; the default here is the same).
- **Clock.** ``FakeClock``: real monotonic time plus whatever a test adds with ``advance``.
- **Server-side miss.** ``miss_next()`` makes the next request read nothing although its prefix is
  cached (it still writes), as the real API sometimes does.

Nothing here imports Nexus: the fake is the independent oracle the ledger's tests compare against.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

TOKEN_BYTES = 4
LOOKBACK_BLOCKS = 20
MIN_TOKENS = 1024
TTL_S = {"5m": 300.0, "1h": 3600.0}


class FakeClock:
    """Seconds, monotonic; ``advance`` moves it forward as if the time had passed."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset_s

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset_s += seconds


@dataclass(frozen=True, slots=True)
class PromptTokens:
    """The input side of one answer's usage."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_tokens + self.cache_creation_1h_tokens

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def as_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation_1h_tokens,
            },
        }


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request as the cache sees it: per block boundary, the key of the prefix ending there and
    its size; the breakpoints (block index, TTL)."""

    keys: tuple[bytes, ...]  # keys[i]: the prefix of blocks 0..i
    sizes: tuple[int, ...]  # sizes[i]: cumulative bytes of blocks 0..i
    breakpoints: tuple[tuple[int, str], ...]
    total_bytes: int

    def tokens(self, end: int) -> int:
        """Tokens of the prefix of blocks 0..end-1 (end 0: nothing)."""
        return self.sizes[end - 1] // TOKEN_BYTES if end > 0 else 0

    @property
    def total_tokens(self) -> int:
        return max(1, self.total_bytes // TOKEN_BYTES)


def read_prompt(body: dict[str, Any]) -> Prompt:
    """The blocks of a Messages body in cache order, with their keys and sizes."""
    digest = hashlib.sha256(b"model:" + str(body.get("model")).encode())
    keys: list[bytes] = []
    sizes: list[int] = []
    breakpoints: list[tuple[int, str]] = []
    total = 0

    def add(block: Any, prefix: bytes = b"") -> None:
        nonlocal total
        raw, ttl = _block_bytes(block)
        raw = prefix + raw
        digest.update(len(raw).to_bytes(8, "big") + raw)
        total += len(raw)
        keys.append(digest.copy().digest())
        sizes.append(total)
        if ttl is not None:
            breakpoints.append((len(keys) - 1, ttl))

    for tool in _list(body.get("tools")):
        add(tool)
    system = body.get("system")
    for block in [_text(system)] if isinstance(system, str) else _list(system):
        add(block)
    # The message part's key depends on these settings; they add no tokens and no block.
    settings = {"thinking": body.get("thinking"), "tool_choice": body.get("tool_choice")}
    digest.update(b"settings:" + orjson.dumps(settings))
    for message in _list(body.get("messages")):
        if not isinstance(message, dict):
            continue
        role = str(message.get("role")).encode() + b":"
        content = message.get("content")
        for block in [_text(content)] if isinstance(content, str) else _list(content):
            add(block, role)
    return Prompt(tuple(keys), tuple(sizes), tuple(breakpoints), total)


@dataclass(slots=True)
class _Entry:
    ttl: str
    expires_at: float


@dataclass
class PromptCache:
    """The cache one fake upstream holds. ``answer`` is called once per Messages request."""

    clock: FakeClock = field(default_factory=FakeClock)
    min_tokens: int = MIN_TOKENS
    answers: list[PromptTokens] = field(default_factory=list)  # one per answered request
    _entries: dict[bytes, _Entry] = field(default_factory=dict)
    _misses_due: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def miss_next(self, count: int = 1) -> None:
        """The next ``count`` requests read nothing from the cache, as a server-side miss."""
        with self._lock:
            self._misses_due += count

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def live_entries(self) -> int:
        now = self.clock.now()
        with self._lock:
            return sum(1 for e in self._entries.values() if e.expires_at > now)

    def answer(self, body: dict[str, Any]) -> PromptTokens:
        prompt = read_prompt(body)
        with self._lock:
            tokens = self._answer(prompt)
            self.answers.append(tokens)
        return tokens

    def _answer(self, prompt: Prompt) -> PromptTokens:
        now = self.clock.now()
        if not prompt.breakpoints:
            return PromptTokens(input_tokens=prompt.total_tokens)
        if self._misses_due:
            self._misses_due -= 1
            hit = 0
        else:
            hit = self._longest_hit(prompt, now)
        written = {"5m": 0, "1h": 0}
        start = hit  # blocks 0..start-1 are read
        for index, ttl in prompt.breakpoints:
            end = index + 1
            key = prompt.keys[index]
            if prompt.tokens(end) < self.min_tokens:
                continue
            if end > start:
                written[ttl] += prompt.tokens(end) - prompt.tokens(start)
                start = end
            self._entries[key] = _Entry(ttl, now + TTL_S[ttl])
        cached_end = start
        return PromptTokens(
            input_tokens=prompt.total_tokens - prompt.tokens(cached_end),
            cache_read_input_tokens=prompt.tokens(hit),
            cache_creation_5m_tokens=written["5m"],
            cache_creation_1h_tokens=written["1h"],
        )

    def _longest_hit(self, prompt: Prompt, now: float) -> int:
        """The end (in blocks) of the longest live prefix a breakpoint can reach; refreshes it."""
        best: tuple[int, _Entry] | None = None
        for index, _ttl in prompt.breakpoints:
            for j in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1):
                entry = self._entries.get(prompt.keys[j])
                if entry is None or entry.expires_at <= now:
                    continue
                if best is None or j + 1 > best[0]:
                    best = (j + 1, entry)
                break
        if best is None:
            return 0
        end, entry = best
        entry.expires_at = now + TTL_S[entry.ttl]
        return end


def _block_bytes(block: Any) -> tuple[bytes, str | None]:
    """The block's JSON as sent, without its cache_control, and the TTL that mark asks for."""
    if not isinstance(block, dict):
        return orjson.dumps(block), None
    mark = block.get("cache_control")
    ttl: str | None = None
    if isinstance(mark, dict):
        ttl = "1h" if mark.get("ttl") == "1h" else "5m"
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return orjson.dumps(block), ttl


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
