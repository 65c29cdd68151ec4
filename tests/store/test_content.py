"""Request bodies come back byte for byte, whatever their JSON looks like, and share their history."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.store.content import CutMemory, decompose, rebuild_body


def rebuilt(body: bytes) -> bytes:
    parts = decompose(body)
    blobs = {b.hash: b.data for b in parts.blobs}
    nodes = {n.id: n for n in parts.nodes}
    chains = {}
    for cut in parts.cuts:
        if cut.kind == "chain":
            chain, node = [], nodes[cut.ref]
            while True:
                chain.append((node.sep, blobs[node.blob_hash]))
                if node.parent_id is None:
                    break
                node = nodes[node.parent_id]
            chains[cut.ref] = chain[::-1]
    return rebuild_body(parts.skeleton, parts.cuts, blobs, chains)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": json_values}),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    messages=messages,
    system=json_values,
    extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    indent=st.sampled_from([None, 1, 2]),
    ensure_ascii=st.booleans(),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
)
def test_any_body_round_trips_byte_for_byte(
    messages, system, extra, indent, ensure_ascii, separators
):
    body = json.dumps(
        {**extra, "system": system, "messages": messages, "tools": [{"name": "Bash"}]},
        indent=indent,
        ensure_ascii=ensure_ascii,
        separators=separators if indent is None else None,
    ).encode()
    assert rebuilt(body) == body


@given(st.binary(max_size=200))
def test_bodies_that_are_not_json_objects_round_trip_too(body):
    assert rebuilt(body) == body


def test_odd_json_survives_unicode_escapes_key_order_floats_and_huge_strings():
    body = (
        b'{"z":1.0000000000000002,"messages":[{"role":"user","content":"caf\\u00e9 \\ud83d\\ude00"},'
        b'{"role":"assistant","content":[{"type":"text","text":"' + b"x" * 300_000 + b'"}]}],'
        b'"a":-0.0,"system":"s","model":"m","messages_dup":[1e400]}'
    )
    assert rebuilt(body) == body
    assert len(decompose(body).nodes) == 2


def test_a_longer_history_shares_every_node_of_the_shorter_one():
    history = [{"role": "user", "content": f"turn {i} " * 50} for i in range(10)]
    short = orjson.dumps({"model": "m", "messages": history[:6]})
    long = orjson.dumps({"model": "m", "messages": history})
    short_nodes = {n.id for n in decompose(short).nodes}
    long_nodes = {n.id for n in decompose(long).nodes}
    assert short_nodes < long_nodes
    assert len(long_nodes - short_nodes) == 4


def test_an_edited_message_starts_a_new_branch_of_nodes():
    history = [{"role": "user", "content": f"turn {i}"} for i in range(5)]
    edited = [*history[:3], {"role": "user", "content": "something else"}]
    a = [n.id for n in decompose(orjson.dumps({"messages": history})).nodes]
    b = [n.id for n in decompose(orjson.dumps({"messages": edited})).nodes]
    assert a[:3] == b[:3] and a[3] != b[3]


@settings(max_examples=200, deadline=None)
@given(
    messages=messages,
    system=json_values,
    extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
def test_the_fast_path_cuts_exactly_where_the_tokenizer_does(messages, system, extra):
    from nexus.store.content import _decompose, _decompose_canonical

    try:
        body = orjson.dumps({**extra, "system": system, "messages": messages})
    except TypeError:  # a float orjson cannot write
        return
    found, slow = _decompose_canonical(body, orjson.loads(body), None), _decompose(body)
    assert found is not None
    fast = found[0]
    assert (fast.skeleton, fast.cuts, fast.nodes) == (slow.skeleton, slow.cuts, slow.nodes)
    assert rebuilt(body) == body


@settings(max_examples=200, deadline=None)
@given(
    turns=st.lists(
        st.tuples(st.integers(0, 6), messages, st.sampled_from([None, "s1", "s2"])),
        min_size=1,
        max_size=6,
    ),
    base=messages,
)
def test_a_cut_from_memory_is_the_cut_without_it(turns, base):
    """Turns that share, edit and rewind a history, cut with one memory, come out exactly as each
    body cut alone: the memory only saves work."""
    memory = CutMemory(max_bytes=200, values=1)
    history = list(base)
    for keep, added, system in turns:
        history = history[:keep] + added
        fields = {"system": system, "messages": history} if system else {"messages": history}
        try:
            body = orjson.dumps({"model": "m", **fields, "tools": [keep]})
        except TypeError:  # a float orjson cannot write
            return
        alone, remembered = decompose(body), decompose(body, memory=memory)
        assert remembered == alone
        assert decompose(body, memory=memory) == alone  # the same body again: all from memory


def test_the_next_turn_reuses_the_history_and_a_changed_message_is_cut_again():
    memory = CutMemory()
    history = [
        {"role": "user" if i % 2 else "assistant", "content": f"m{i}" * 50} for i in range(8)
    ]
    first = decompose(orjson.dumps({"messages": history}), memory=memory)
    changed = [*history[:3], {"role": "user", "content": "m3" * 50 + "!"}, *history[4:]]
    second = decompose(orjson.dumps({"messages": [*changed, {"role": "user", "content": "new"}]}),
                       memory=memory)  # fmt: skip
    assert all(a is b for a, b in zip(second.blobs[:3], first.blobs[:3], strict=True)), "recalled"
    assert second.blobs[3].data == orjson.dumps(changed[3])
    assert second.nodes[3].id != first.nodes[3].id and second.nodes[4].id != first.nodes[4].id
    assert second == decompose(
        orjson.dumps({"messages": [*changed, {"role": "user", "content": "new"}]})
    )
