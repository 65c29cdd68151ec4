"""Prompt-cache breaks scripted through Nexus, and what the cache ledger must say of each.

The expectation comes from outside Nexus: the fake upstream's prompt cache (tests/fakes/upstream/
cache.py) says what every request read and wrote, and Anthropic's published price table says what
a token costs. For a request R after P on the same line of work:

- the tokens R should have read are those P left cached: P's ``cache_read + cache_creation``;
- R missed ``those - R's cache_read``;
- the excess cost is the missed tokens at the write price R paid, less the read price (issue 19).
  A price per million tokens in dollars is a price per token in micro-dollars, so the expected
  figure is ``missed × (write - read)`` micro-dollars, rounded half to even once.

``Clock`` moves time for Nexus and for the fake together (a user going idle); ``ledger`` reads what
Nexus says through its HTTP API, as a user's tools would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, PromptCache, PromptTokens

OPUS = "claude-opus-4-8"
SONNET = "claude-sonnet-4-6"


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million tokens."""

    input: Decimal
    write_5m: Decimal
    write_1h: Decimal
    read: Decimal


# https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing"), read 2026-12-03.
PUBLISHED = {
    OPUS: Price(Decimal("5"), Decimal("6.25"), Decimal("10"), Decimal("0.50")),
    SONNET: Price(Decimal("3"), Decimal("3.75"), Decimal("6"), Decimal("0.30")),
}


@dataclass(frozen=True, slots=True)
class Expected:
    cause: str | None  # None: no break
    missed_tokens: int = 0
    excess_cost_usd_micros: int = 0
    # Words the break's detail must hold (the tool, model or text that changed): not compared.
    mentions: tuple[str, ...] = field(default=(), compare=False)


def expected_break(
    cause: str, model: str, p: PromptTokens, r: PromptTokens, *mentions: str
) -> Expected:
    """What the ledger must say of R after P, from the fake's numbers and the published prices."""
    missed = p.cache_read_input_tokens + p.cache_creation_input_tokens - r.cache_read_input_tokens
    # The scenarios keep to the unambiguous case: R wrote again at least what it missed, all at
    # one lifetime. A mixed split or a miss billed as plain input would need a rule of its own.
    assert r.cache_creation_input_tokens >= missed > 0, (p, r)
    assert 0 in (r.cache_creation_5m_tokens, r.cache_creation_1h_tokens), r
    price = PUBLISHED[model]
    write = price.write_1h if r.cache_creation_1h_tokens else price.write_5m
    excess = (Decimal(missed) * (write - price.read)).to_integral_value(rounding=ROUND_HALF_EVEN)
    return Expected(cause, missed, int(excess), mentions)


class Clock:
    """Time for Nexus (the timestamps the proxy gives records, in this process) and for the fake's
    cache, moved forward together. Nexus reads wall time through ``time.time_ns``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cache: PromptCache) -> None:
        self.cache = cache
        self.offset_ns = 0
        real = time.time_ns
        monkeypatch.setattr(time, "time_ns", lambda: real() + self.offset_ns)

    def advance(self, seconds: float) -> None:
        self.offset_ns += int(seconds * 1_000_000_000)
        self.cache.clock.advance(seconds)


def caching_fake(fake: FakeUpstream) -> PromptCache:
    fake.cache = PromptCache()
    return fake.cache


async def ledger(api_url: str, expected_rows: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """The Messages requests Nexus stored, oldest first, once all ``expected_rows`` are linked
    (the ledger runs right after linking)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        while True:
            response = await client.get("/api/requests", params={"limit": 500})
            response.raise_for_status()
            rows = [r for r in response.json()["items"] if r["path"] == "/v1/messages"]
            if len(rows) >= expected_rows and all(r.get("conversation_id") for r in rows):
                return sorted(rows, key=lambda r: (r["started_at_ms"], r["id"]))
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(rows)} of {expected_rows} requests linked: {rows}")
            await asyncio.sleep(0.1)


async def cache_report(api_url: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get("/api/cache", params=params)
        response.raise_for_status()
        value: dict[str, Any] = response.json()
        return value


def found(row: dict[str, Any]) -> Expected:
    brk = row.get("cache_break")
    if brk is None:
        return Expected(None)
    return Expected(brk["cause"], brk["missed_tokens"], brk["excess_cost_usd_micros"])


def assert_ledger_says(
    rows: list[dict[str, Any]], expected: list[Expected], properties: list[tuple[str, object]]
) -> None:
    """Each row's break (or none) is the expected one, and its detail names what changed. Both
    sides go to the test's ``user_properties`` (on its report: a table can be made from them)."""
    properties.append(("expected", [dataclasses.asdict(e) for e in expected]))
    properties.append(("found", [row.get("cache_break") for row in rows]))
    assert [found(row) for row in rows] == expected
    for row, want in zip(rows, expected, strict=True):
        for word in want.mentions:
            assert word in row["cache_break"]["detail"], (word, row["cache_break"])


# ---------------------------------------------------------------------------------------------
# A conversation through the anthropic SDK, shaped like Claude Code's: tools, a system prompt with
# a breakpoint on its last block, the breakpoint on the last user block moving forward each turn.


def text(value: str, ttl: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": value}
    if ttl is not None:
        block["cache_control"] = {"type": "ephemeral", **({"ttl": "1h"} if ttl == "1h" else {})}
    return block


def tool(name: str, words: int = 300) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"The {name} tool. " + " ".join(f"{name.lower()}-{i}" for i in range(words)),
        "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}},
    }


def filler(tag: str, chars: int) -> str:
    """Distinct text of about ``chars`` characters (so no two scenarios share a prefix)."""
    unit = f"{tag} line of context that the model reads again every turn. "
    return (unit * (chars // len(unit) + 1))[:chars]


@dataclass
class Chat:
    """One line of work through Nexus. ``turn`` sends the history plus a new user message."""

    client: anthropic.AsyncAnthropic
    cache: PromptCache
    name: str
    ttl: str = "5m"
    model: str = OPUS
    tools: list[dict[str, Any]] = field(default_factory=lambda: [tool("Read"), tool("Bash")])
    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: list[PromptTokens] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # thinking, tool_choice

    def __post_init__(self) -> None:
        if not self.system:
            self.system = [
                text(f"You are the {self.name} test agent."),
                text("Today's date is 2026-12-03.\n" + filler(self.name, 24_000), self.ttl),
            ]

    async def turn(self, *blocks: dict[str, Any], **changes: Any) -> PromptTokens:
        """Send a user message of ``blocks`` (the last gets the breakpoint); ``changes`` replace
        request fields from now on (model, tools, system, thinking, tool_choice)."""
        for message in self.messages:  # the breakpoint moves to the new last block
            for block in message["content"]:
                block.pop("cache_control", None)
        last = {**blocks[-1], "cache_control": {"type": "ephemeral", **self._ttl()}}
        self.messages.append({"role": "user", "content": [*blocks[:-1], last]})
        for key, value in changes.items():
            if key in ("model", "tools", "system"):
                setattr(self, key, value)
            else:
                self.settings[key] = value
        reply = await self.client.messages.create(
            model=self.model,
            max_tokens=4096,
            tools=self.tools,  # type: ignore[arg-type]
            system=self.system,  # type: ignore[arg-type]
            messages=self.messages,  # type: ignore[arg-type]
            **self.settings,
        )
        answer = self.cache.answers[-1]
        self.answers.append(answer)
        self.messages.append(
            {
                "role": "assistant",
                "content": [text(b.text) for b in reply.content if b.type == "text"],
            }
        )
        return answer

    def _ttl(self) -> dict[str, str]:
        return {"ttl": "1h"} if self.ttl == "1h" else {}
