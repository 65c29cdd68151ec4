"""The fake upstream's prompt cache, checked against numbers worked out by hand from its documented
rules (tests/fakes/upstream/cache.py): blocks in the order tools, system, messages; a block's bytes
are its JSON without cache_control, a message block prefixed by ``role:``; 4 bytes a token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.fakes.upstream import (
    CacheRemote,
    FakeUpstream,
    PromptCache,
    PromptTokens,
)

MODEL = "claude-opus-4-8"
EMPTY_TEXT_BLOCK = len(b'{"type":"text","text":""}')  # 25 bytes


def block(size: int, fill: str = "a", ttl: str | None = None) -> dict[str, Any]:
    """A text block whose JSON (without cache_control) is exactly ``size`` bytes."""
    value: dict[str, Any] = {"type": "text", "text": fill * (size - EMPTY_TEXT_BLOCK)}
    if ttl is not None:
        value["cache_control"] = (
            {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}
        )
    return value


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


# A system block of 8000 bytes (2000 tokens); message blocks of 400 bytes with the role prefix
# (100 tokens): "user:" is 5 bytes, "assistant:" 10.
SYSTEM = block(8000, "s", ttl="5m")
U1, A1, U2 = block(395, "u"), block(390, "r"), block(395, "v")


def body(*messages: dict[str, Any], system: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 100,
        "system": [SYSTEM] if system is None else system,
        "messages": list(messages),
        **extra,
    }


def marked(value: dict[str, Any], ttl: str = "5m") -> dict[str, Any]:
    return {
        **value,
        "cache_control": {"type": "ephemeral"}
        if ttl == "5m"
        else {"type": "ephemeral", "ttl": ttl},
    }


def tokens(read: int = 0, w5: int = 0, w1: int = 0, fresh: int = 0) -> PromptTokens:
    return PromptTokens(
        input_tokens=fresh,
        cache_read_input_tokens=read,
        cache_creation_5m_tokens=w5,
        cache_creation_1h_tokens=w1,
    )


def test_no_breakpoint_means_everything_is_input() -> None:
    cache = PromptCache()
    plain = body(user(U1), system=[block(8000, "s")])
    assert cache.answer(plain) == tokens(fresh=2100)
    assert cache.answer(plain) == tokens(fresh=2100)


def test_first_request_writes_then_the_same_prefix_is_read() -> None:
    cache = PromptCache()
    first = body(user(U1))  # breakpoint on the system block only: the user turn stays input
    assert cache.answer(first) == tokens(w5=2000, fresh=100)
    assert cache.answer(first) == tokens(read=2000, fresh=100)


def test_a_growing_conversation_reads_the_last_turn_and_writes_only_the_new_one() -> None:
    cache = PromptCache()
    assert cache.answer(body(user(marked(U1)))) == tokens(w5=2100)
    # The breakpoint moved to the new last block: the entry at U1 is found by looking back.
    grown = body(user(U1), assistant(A1), user(marked(U2)))
    assert cache.answer(grown) == tokens(read=2100, w5=200)
    assert cache.answers == [tokens(w5=2100), tokens(read=2100, w5=200)]


def test_entries_expire_after_five_minutes_and_a_read_refreshes_them() -> None:
    cache = PromptCache()
    request = body(user(marked(U1)))
    cache.answer(request)
    cache.clock.advance(299)
    assert cache.answer(request) == tokens(read=2100)
    cache.clock.advance(299)  # 598 s after the write, 299 after the refreshing read
    assert cache.answer(request) == tokens(read=2100)
    cache.clock.advance(301)
    assert cache.answer(request) == tokens(w5=2100)


def test_a_read_found_by_looking_back_refreshes_that_entry_too() -> None:
    cache = PromptCache()
    cache.answer(body(user(marked(U1))))
    cache.clock.advance(200)
    cache.answer(body(user(U1), assistant(A1), user(marked(U2))))  # reads the entry at U1
    cache.clock.advance(200)  # 400 s after U1 was written, 200 after it was read
    assert cache.answer(body(user(marked(U1)))) == tokens(read=2100)


def test_one_hour_breakpoints_outlive_five_minute_ones_and_split_the_write() -> None:
    cache = PromptCache()
    request = body(user(marked(U1)), system=[marked(SYSTEM, "1h")])
    assert cache.answer(request) == tokens(w1=2000, w5=100)
    cache.clock.advance(600)  # the 5m entry is gone, the 1h one lives
    assert cache.answer(request) == tokens(read=2000, w5=100)
    cache.clock.advance(3601)
    assert cache.answer(request) == tokens(w1=2000, w5=100)


def test_the_model_is_part_of_every_key() -> None:
    cache = PromptCache()
    request = body(user(marked(U1)))
    cache.answer(request)
    assert cache.answer({**request, "model": "claude-sonnet-4-6"}) == tokens(w5=2100)
    assert cache.answer(request) == tokens(read=2100)


@pytest.mark.parametrize(
    "change",
    [{"tool_choice": {"type": "any"}}, {"thinking": {"type": "enabled", "budget_tokens": 2048}}],
)
def test_thinking_or_tool_choice_invalidate_the_messages_but_not_the_system(
    change: dict[str, Any],
) -> None:
    cache = PromptCache()
    request = body(user(marked(U1)))
    cache.answer(request)
    assert cache.answer({**request, **change}) == tokens(read=2000, w5=100)


def test_a_tool_added_invalidates_everything() -> None:
    cache = PromptCache()
    tool = {"name": "Read", "description": "d" * 200, "input_schema": {"type": "object"}}
    other = {"name": "Write", "description": "w" * 200, "input_schema": {"type": "object"}}
    request = body(user(marked(U1)), tools=[tool])
    size = len(orjson.dumps(tool))
    assert cache.answer(request) == tokens(w5=(size + 8400) // 4)
    size2 = len(orjson.dumps(other))
    assert cache.answer({**request, "tools": [tool, other]}) == tokens(
        w5=(size + size2 + 8400) // 4
    )


def test_a_changed_system_block_invalidates_it_and_what_follows() -> None:
    cache = PromptCache()
    cache.answer(body(user(marked(U1))))
    edited = [block(8000, "t", ttl="5m")]
    assert cache.answer(body(user(marked(U1)), system=edited)) == tokens(w5=2100)


@pytest.mark.parametrize(("distance", "read"), [(20, 2100), (21, 2000)])
def test_a_breakpoint_finds_entries_at_most_twenty_blocks_back(distance: int, read: int) -> None:
    """Each extra block is 40 bytes (10 tokens) with its role prefix."""
    cache = PromptCache()
    cache.answer(body(user(marked(U1))))
    middle = assistant(*[block(30, "m") for _ in range(distance - 1)])
    later = body(user(U1), middle, user(block(35, "z", ttl="5m")))
    answer = cache.answer(later)
    assert answer.cache_read_input_tokens == read
    assert answer.total == 2100 + 10 * distance
    assert answer.cache_creation_5m_tokens == answer.total - read


def test_miss_next_reads_nothing_once_but_still_writes() -> None:
    cache = PromptCache()
    request = body(user(marked(U1)))
    cache.answer(request)
    cache.miss_next()
    assert cache.answer(request) == tokens(w5=2100)
    assert cache.answer(request) == tokens(read=2100)


def test_prefixes_under_the_minimum_are_not_cached() -> None:
    cache = PromptCache()  # 1024 tokens, as the real API for most models
    small = body(user(U1), system=[block(2000, "s", ttl="5m")])  # 500 tokens
    assert cache.answer(small) == tokens(fresh=600)
    assert cache.answer(small) == tokens(fresh=600)
    assert PromptCache(min_tokens=0).answer(small) == tokens(w5=500, fresh=100)


def test_string_system_and_content_count_as_one_text_block() -> None:
    cache = PromptCache()
    as_strings = {
        "model": MODEL,
        "system": "s" * (8000 - EMPTY_TEXT_BLOCK),
        "messages": [{"role": "user", "content": "u" * (395 - EMPTY_TEXT_BLOCK)}],
    }
    assert cache.answer(as_strings) == tokens(fresh=2100)


async def test_usage_on_the_wire_streamed_and_whole() -> None:
    async with FakeUpstream(cache=PromptCache()) as upstream:
        client = anthropic.AsyncAnthropic(base_url=upstream.url, api_key="k", max_retries=0)
        request = body(user(marked(U1)), system=[marked(SYSTEM, "1h")])
        first = await client.messages.create(**request)
        assert first.usage.cache_creation_input_tokens == 2100
        assert first.usage.cache_read_input_tokens == 0
        assert first.usage.input_tokens == 0
        assert first.usage.cache_creation is not None
        assert first.usage.cache_creation.ephemeral_1h_input_tokens == 2000
        assert first.usage.cache_creation.ephemeral_5m_input_tokens == 100
        async with client.messages.stream(**request) as stream:
            final = await stream.get_final_message()
        assert final.usage.cache_read_input_tokens == 2100
        assert final.usage.cache_creation_input_tokens == 0
        counted = await client.messages.count_tokens(
            model=MODEL, system=request["system"], messages=request["messages"]
        )
        assert counted.input_tokens == 2100
        await client.close()


def test_a_subprocess_fake_is_controlled_through_its_routes() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--cache", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        remote = CacheRemote(url)
        request = {**body(user(marked(U1))), "stream": True}

        def send() -> None:
            httpx.post(url + "/v1/messages", json=request, timeout=10).raise_for_status()

        send()
        remote.advance(301)
        send()
        send()
        remote.miss_next()
        send()
        assert remote.answers() == [
            tokens(w5=2100),
            tokens(w5=2100),
            tokens(read=2100),
            tokens(w5=2100),
        ]
        assert httpx.post(url + "/_fake/clock/advance", timeout=10).status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


async def test_control_routes_are_not_counted_as_requests_and_need_a_cache(
    fake_upstream: FakeUpstream,
) -> None:
    async with httpx.AsyncClient(base_url=fake_upstream.url) as client:
        response = await client.get("/_fake/cache")
    assert response.status_code == 409
    assert fake_upstream.requests == []
