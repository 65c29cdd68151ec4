"""The linker's fingerprint memory only saves work: turns that share, edit, rewind and merge a
history fingerprint exactly as each request alone does, and the shared part is reused."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.conversations.memory import FingerprintMemory
from nexus.conversations.normalize import fingerprint

ids = st.sampled_from(["t1", "t2", "t3"])
MARKER = "This session is being continued from a previous conversation that ran out of context."
text = st.sampled_from(
    ["fix it", "ok", "<system-reminder>x</system-reminder>", "", "done", MARKER + "\n" + "a" * 30]
)
blocks = st.lists(
    st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, text),
        st.builds(lambda i: {"type": "tool_use", "id": i, "name": "Bash", "input": {}}, ids),
        st.builds(lambda i, t: {"type": "tool_result", "tool_use_id": i, "content": t}, ids, text),
        st.builds(lambda t: {"type": "thinking", "thinking": t}, text),
        st.builds(lambda n: {"type": "image", "n": n, "cache_control": {}}, st.integers(0, 2)),
    ),
    max_size=3,
)
message = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["user", "assistant", "user", "system"]),
    st.one_of(blocks, text),
)
reply = st.one_of(st.none(), blocks)


def _fp(messages: list[Any], content: Any, memory: FingerprintMemory | None = None) -> Any:
    response = {"role": "assistant", "content": content} if content is not None else None
    return fingerprint({"messages": messages}, response, memory=memory)


@settings(max_examples=300, deadline=None)
@given(
    base=st.lists(message, max_size=6),
    turns=st.lists(
        st.tuples(st.integers(0, 8), st.lists(message, max_size=3), reply), min_size=1, max_size=6
    ),
)
def test_a_fingerprint_from_memory_is_the_fingerprint_without_it(base, turns):
    memory = FingerprintMemory(max_bytes=300)
    history = list(base)
    for keep, added, content in turns:
        history = history[:keep] + added
        alone = _fp(history, content)
        assert _fp(history, content, memory) == alone
        assert _fp(history, content, memory) == alone  # all of it from memory


def _bytes(messages: list[Any], how: int) -> list[bytes] | None:
    """None (the memory serialises them), orjson's compact bytes (what the cutter measures in a
    Claude Code body), or the same messages spaced differently (another client's JSON)."""
    if how == 0:
        return None
    if how == 1:
        return [orjson.dumps(m) for m in messages]
    return [json.dumps(m, indent=1).encode() for m in messages]


@settings(max_examples=300, deadline=None)
@given(
    base=st.lists(message, max_size=6),
    turns=st.lists(
        st.tuples(st.integers(0, 8), st.lists(message, max_size=3), reply, st.integers(0, 2)),
        min_size=1,
        max_size=6,
    ),
)
def test_message_bytes_from_the_body_change_no_fingerprint(base, turns):
    memory = FingerprintMemory(max_bytes=300)
    history = list(base)
    for keep, added, content, how in turns:
        history = history[:keep] + added
        response = {"role": "assistant", "content": content} if content is not None else None
        given_bytes = _bytes(history, how)
        from_memory = fingerprint(
            {"messages": history}, response, memory=memory, message_bytes=given_bytes
        )
        assert from_memory == _fp(history, content)


def test_the_next_turn_normalises_only_what_it_adds(monkeypatch):
    import nexus.conversations.memory as memory_module

    memory = FingerprintMemory()
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"} for i in range(6)
    ]
    first = memory.normalise(history)
    normalised: list[object] = []
    original = memory_module.normalize_message
    monkeypatch.setattr(
        memory_module,
        "normalize_message",
        lambda m, seen: normalised.append(m) or original(m, seen),
    )
    second = memory.normalise([*history, {"role": "user", "content": "next"}])
    assert first is not None and second is not None
    # The last message kept could have grown: it is normalised again, with the new one.
    assert normalised == [history[5], {"role": "user", "content": "next"}]
    assert second.prefixes[:5] == first.prefixes[:5] and len(second.prefixes) == 7


def test_message_bytes_the_cutter_measured_are_kept_not_copied():
    """The cutter's memory holds the same exact-size bytes: a copy here doubled them (8 MB of the
    recorder's 91 MB in benchmarks/proxy_overhead.py)."""
    messages = [{"role": "user", "content": f"turn {n} " + "x" * 500} for n in range(6)]
    given = [orjson.dumps(m) for m in messages]
    memory = FingerprintMemory()
    memory.normalise(messages, given)
    memory.normalise(messages + [{"role": "assistant", "content": "ok"}], [*given, b"{}"])
    (entry,) = memory._entries.values()
    assert all(kept is mine for kept, mine in zip(entry.datas, given, strict=False))
    memory.normalise([{"role": "user", "content": "alone"}])  # serialised here: copied
    assert len(memory._entries) == 2
