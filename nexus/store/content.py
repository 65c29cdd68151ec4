"""Content-addressed request bodies: the sole owner of how a body is cut up and put back together.

Claude Code resends the whole history on every turn, so storing bodies whole grows with the square of
the conversation. Instead a body is cut into

- a *skeleton*: the body with the big values taken out (model, max_tokens, metadata... stay in place),
- *blobs*: the ``system`` value, the ``tools`` value and each element of ``messages``, stored once
  each by the hash of their exact bytes,
- a *chain* of message nodes: node id = H(parent node, separator bytes, message hash), so two requests
  that share a history prefix share its nodes, and a request points only at the last node of its chain.

``rebuild_body`` puts the exact original bytes back. Cutting works on the raw bytes (a tokenizer finds
the value spans) and never re-serialises JSON; every decomposition is verified by rebuilding it, and a
body that does not round-trip (or is not a JSON object) is stored whole, as a single blob.

Longer than ~400 lines on purpose: cutting a body up and putting it back together are exact
inverses, kept side by side so a change to one is made to the other.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from nexus.wire import ParsedRequest, parsed_body

HASH_BYTES = 16

# A JSON string (unrolled-loop form, fast in `re`), one structural character, a run of anything
# else (numbers, literals, spaces), or a lone quote: every position matches one alternative, so the
# scan is one pass whatever the bytes. A lone quote is an unterminated string: the body is not cut
# (``finditer`` would otherwise retry the string from every later quote, quadratic in the size).
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]|[^"{}\[\],:]+|"')
_WS = b" \t\r\n"
_CUT_KEYS = (b'"system"', b'"tools"')
_VALUE_KINDS = ("system", "tools")


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=HASH_BYTES).digest()


def node_id(parent: bytes | None, sep: bytes, blob_hash: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=HASH_BYTES)
    h.update(parent or b"\0" * HASH_BYTES)
    h.update(len(sep).to_bytes(4, "big"))
    h.update(sep)
    h.update(blob_hash)
    return h.digest()


@dataclass(frozen=True, slots=True)
class Blob:
    hash: bytes
    kind: str  # "message" | "system" | "tools" | "body" | "headers"
    data: bytes


@dataclass(frozen=True, slots=True)
class MessageNode:
    id: bytes
    parent_id: bytes | None
    blob_hash: bytes
    sep: bytes  # the bytes between the previous element (or "[") and this one


@dataclass(frozen=True, slots=True)
class Cut:
    """Where content goes back into the skeleton: a blob, or a whole message chain."""

    offset: int
    kind: str  # "blob" | "chain"
    ref: bytes  # blob hash or tail node id


@dataclass(frozen=True, slots=True)
class Decomposed:
    skeleton: bytes
    cuts: tuple[Cut, ...]
    blobs: tuple[Blob, ...]
    nodes: tuple[MessageNode, ...]

    def cuts_json(self) -> bytes:
        return orjson.dumps([[c.offset, c.kind, c.ref.hex()] for c in self.cuts])


@dataclass(frozen=True, slots=True)
class _Element:
    """One message of a body already cut: its exact bytes, its blob and its chain node."""

    data: bytes
    blob: Blob
    node: MessageNode


class CutMemory:
    """What recent bodies were cut into, so that the next turn of a conversation (the same history
    plus a few messages) is serialised and hashed only past that history: each shared element is
    recognised by comparing its bytes in place, which costs a memcmp instead of a serialisation and
    a hash. Chains are remembered by their first message, ``system`` and ``tools`` values by kind.
    Bounded by the bytes of the chains it holds (``max_bytes``: about 40 histories of 200 KB, the
    live sessions of a busy team); a miss costs only the work it would have saved, and every cut is
    still verified by rebuilding the body."""

    def __init__(self, max_bytes: int = 8 << 20, values: int = 8) -> None:
        self._chains: OrderedDict[bytes, tuple[_Element, ...]] = OrderedDict()
        self._values: dict[str, list[Blob]] = {}
        self._max_bytes = max_bytes
        self._bytes = 0
        self._max_values = values
        self._lock = threading.Lock()  # batches are cut in worker threads

    def chain(self, first: bytes) -> tuple[_Element, ...]:
        with self._lock:
            found = self._chains.get(first, ())
            if found:
                self._chains.move_to_end(first)
            return found

    def value(self, kind: str, body: bytes, pos: int) -> Blob | None:
        """A remembered ``kind`` value whose bytes are the body's at ``pos``."""
        with self._lock:
            candidates = list(self._values.get(kind, ()))
        return next((b for b in candidates if body.startswith(b.data, pos)), None)

    def remember(self, elements: Sequence[_Element], values: Sequence[Blob]) -> None:
        with self._lock:
            if elements:
                old = self._chains.pop(elements[0].data, ())
                self._bytes += _size(elements) - _size(old)
                self._chains[elements[0].data] = tuple(elements)
                while self._bytes > self._max_bytes and len(self._chains) > 1:
                    self._bytes -= _size(self._chains.popitem(last=False)[1])
            for blob in values:
                recent = self._values.setdefault(blob.kind, [])
                if blob not in recent:
                    recent.insert(0, blob)
                    del recent[self._max_values :]


def _kept(data: bytes) -> bytes:
    """A copy of exactly ``data``'s size, for bytes a memory keeps: ``orjson.dumps`` leaves its
    result in a buffer about ten times larger (measured: 50 MB held for 5 MB of messages)."""
    return memoryview(data).tobytes()


def _size(elements: Sequence[_Element]) -> int:
    return sum(len(e.data) for e in elements)


def cuts_from_json(raw: bytes) -> tuple[Cut, ...]:
    return tuple(Cut(off, kind, bytes.fromhex(ref)) for off, kind, ref in orjson.loads(raw))


def decompose(
    body: bytes, parsed: ParsedRequest | None = None, memory: CutMemory | None = None
) -> Decomposed:
    """Cut a request body into skeleton, blobs and message chain; whole-body blob as the fallback.

    Bodies written compactly by JavaScript or orjson (Claude Code's are) take the fast path: the
    spans are computed by re-serialising the parsed values, in C. Anything else (other spacing,
    escaped non-ASCII, odd floats) is tokenised. Either way the result must rebuild the exact bytes.
    ``parsed``: the recorder's parse of ``body``, if it has one (saves parsing it again).
    ``memory``: what recent bodies were cut into (the shared history is not cut again).
    """
    try:
        found = _decompose_canonical(body, parsed_body(body, parsed).value, memory)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (254): tokenised below
        found = None
    if found is not None and _rebuild_in_memory(found[0]) == body:
        if parsed is not None and parsed.raw is body:  # for the linker (wire.ParsedRequest)
            parsed.message_bytes[:] = [e.data for e in found[1]]
        if memory is not None:
            memory.remember(found[1], [b for b in found[0].blobs if b.kind in _VALUE_KINDS])
        return found[0]
    try:
        parts = _decompose(body)
    except _NotCuttable:
        parts = None
    if parts is not None and _rebuild_in_memory(parts) == body:
        return parts
    blob = Blob(content_hash(body), "body", body)
    return Decomposed(b"", (Cut(0, "blob", blob.hash),), (blob,), ())


class _NotCuttable(Exception):
    pass


def _decompose_canonical(
    body: bytes, parsed: dict[str, Any] | None, memory: CutMemory | None
) -> tuple[Decomposed, list[_Element]] | None:
    """Spans of a body that is exactly ``orjson.dumps`` of its own parse ``parsed``, found by
    measuring the serialised pieces (or recognising the bytes ``memory`` holds in place); None when
    the body is not a JSON object (the caller verifies the rest)."""
    if parsed is None or not body.startswith(b"{"):
        return None
    pieces: list[tuple[int, int, str, bytes]] = []
    blobs: list[Blob] = []
    elements: list[_Element] = []
    pos = 1  # after "{"
    for index, (key, value) in enumerate(parsed.items()):
        pos += (1 if index else 0) + len(orjson.dumps(key)) + 1  # ',' + "key" + ':'
        if key == "messages" and isinstance(value, list) and value:
            elements = _cut_messages(body, pos + 1, value, memory)
            blobs.extend(e.blob for e in elements)
            cursor = pos + 1 + sum(len(e.node.sep) + len(e.data) for e in elements)
            pieces.append((pos + 1, cursor, "chain", elements[-1].node.id))
            pos = cursor + 1  # after "]"
            continue
        if key in _VALUE_KINDS:
            blob = memory.value(key, body, pos) if memory is not None else None
            if blob is None:
                data = orjson.dumps(value)
                blob = Blob(content_hash(data), key, _kept(data) if memory is not None else data)
            blobs.append(blob)
            pieces.append((pos, pos + len(blob.data), "blob", blob.hash))
            pos += len(blob.data)
            continue
        pos += len(orjson.dumps(value))
    return _assemble(body, pieces, blobs, [e.node for e in elements]), elements


def _cut_messages(
    body: bytes, cursor: int, messages: list[Any], memory: CutMemory | None
) -> list[_Element]:
    """The elements of a non-empty ``messages`` array whose first element starts at ``cursor``.
    Leading elements whose bytes (and chain) an earlier body had are taken from ``memory``."""
    first = orjson.dumps(messages[0])
    known = memory.chain(first) if memory is not None else ()
    out: list[_Element] = []
    parent: bytes | None = None
    for n, element in enumerate(messages):
        sep = b"," if n else b""
        cursor += len(sep)
        same = known[n] if n < len(known) else None
        if (
            same is not None
            and same.node.parent_id == parent
            and body.startswith(same.data, cursor)
        ):
            out.append(same)
        else:
            known = ()
            data = first if n == 0 else orjson.dumps(element)
            if memory is not None:
                data = _kept(data)
            blob = Blob(content_hash(data), "message", data)
            out.append(_Element(data, blob, MessageNode(node_id(parent, sep, blob.hash), parent,
                                                        blob.hash, sep)))  # fmt: skip
        parent = out[-1].node.id
        cursor += len(out[-1].data)
    return out


def _assemble(
    body: bytes,
    pieces: list[tuple[int, int, str, bytes]],
    blobs: list[Blob],
    nodes: list[MessageNode],
) -> Decomposed:
    skeleton = bytearray()
    cuts: list[Cut] = []
    pos = 0
    for start, end, kind, ref in sorted(pieces):
        skeleton += body[pos:start]
        cuts.append(Cut(len(skeleton), kind, ref))
        pos = end
    skeleton += body[pos:]
    return Decomposed(bytes(skeleton), tuple(cuts), tuple(blobs), tuple(nodes))


def _decompose(body: bytes) -> Decomposed:
    spans = _top_level_spans(body)
    pieces: list[tuple[int, int, str, bytes]] = []  # (start, end, kind, ref) cut out of the body
    blobs: list[Blob] = []
    nodes: list[MessageNode] = []
    for key in _CUT_KEYS:
        span = spans.get(key)
        if span is None:
            continue
        start, end, _ = span
        data = body[start:end]
        blob = Blob(content_hash(data), key.strip(b'"').decode(), data)
        blobs.append(blob)
        pieces.append((start, end, "blob", blob.hash))
    span = spans.get(b'"messages"')
    if span is not None and span[2]:
        start, end, elements = span
        parent: bytes | None = None
        cursor = start + 1  # just after "["
        for el_start, el_end in elements:
            data = body[el_start:el_end]
            blob = Blob(content_hash(data), "message", data)
            sep = body[cursor:el_start]
            node = MessageNode(node_id(parent, sep, blob.hash), parent, blob.hash, sep)
            blobs.append(blob)
            nodes.append(node)
            parent = node.id
            cursor = el_end
        assert parent is not None
        pieces.append((start + 1, cursor, "chain", parent))
    return _assemble(body, pieces, blobs, nodes)


def _top_level_spans(body: bytes) -> dict[bytes, tuple[int, int, list[tuple[int, int]]]]:
    """Value spans of the top-level keys we cut, and for an array value its element spans.

    Returns {key token: (value start, value end, element spans)}; element spans are only collected
    for ``messages``. Raises _NotCuttable when the body is not a single JSON object.
    """
    start = len(body) - len(body.lstrip(_WS))
    if body[start : start + 1] != b"{":
        raise _NotCuttable
    spans: dict[bytes, tuple[int, int, list[tuple[int, int]]]] = {}
    depth = 0
    key: bytes | None = None  # top-level key whose value we are inside
    expecting_key = False
    value_start = 0
    elements: list[tuple[int, int]] = []
    el_start = -1
    wanted = (b'"messages"', *_CUT_KEYS)
    for m in _TOKEN.finditer(body):
        tok = m.group()
        first = tok[0]
        if first == 0x22:  # string
            if len(tok) == 1:  # an unterminated string
                raise _NotCuttable
            if depth == 1 and expecting_key:
                key = tok if tok in wanted and tok not in spans else None
                expecting_key = False
            elif depth == 2 and key == b'"messages"' and el_start < 0:
                el_start = m.start()
            continue
        if tok == b":":
            if depth == 1 and key is not None:
                value_start = _skip_ws(body, m.end())
            continue
        if tok in (b"{", b"["):
            if depth == 2 and key == b'"messages"' and el_start < 0:
                el_start = m.start()
            depth += 1
            if depth == 1:
                expecting_key = True
            continue
        if tok in (b"}", b"]"):
            if depth == 2 and key == b'"messages"' and el_start >= 0:
                elements.append((el_start, _rstrip_end(body, m.start())))
                el_start = -1
            depth -= 1
            if depth == 0:
                if key is not None:
                    spans[key] = (value_start, _rstrip_end(body, m.start()), elements)
                if body[m.end() :].strip(_WS):
                    raise _NotCuttable
                return spans
            continue
        if tok != b",":  # numbers, literals, spaces: nothing to cut there
            continue
        if depth == 2 and key == b'"messages"' and el_start >= 0:
            elements.append((el_start, _rstrip_end(body, m.start())))
            el_start = -1
        elif depth == 1:
            if key is not None:
                spans[key] = (value_start, _rstrip_end(body, m.start()), elements)
                elements = []
            key = None
            expecting_key = True
    raise _NotCuttable


def _skip_ws(body: bytes, pos: int) -> int:
    while pos < len(body) and body[pos] in _WS:
        pos += 1
    return pos


def _rstrip_end(body: bytes, pos: int) -> int:
    while pos > 0 and body[pos - 1] in _WS:
        pos -= 1
    return pos


def rebuild_body(
    skeleton: bytes,
    cuts: Sequence[Cut],
    blob_data: Mapping[bytes, bytes],
    chains: Mapping[bytes, Iterable[tuple[bytes, bytes]]],
) -> bytes:
    """Put a body back together. ``chains`` maps a tail node id to its (sep, message bytes) pairs,
    first message first; ``blob_data`` maps blob hashes to their bytes."""
    out = bytearray()
    pos = 0
    for cut in cuts:
        out += skeleton[pos : cut.offset]
        pos = cut.offset
        if cut.kind == "blob":
            out += blob_data[cut.ref]
        else:
            for sep, data in chains[cut.ref]:
                out += sep
                out += data
    out += skeleton[pos:]
    return bytes(out)


def _rebuild_in_memory(parts: Decomposed) -> bytes:
    blob_data = {b.hash: b.data for b in parts.blobs}
    by_id = {n.id: n for n in parts.nodes}
    chains: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for cut in parts.cuts:
        if cut.kind == "chain":
            chain: list[tuple[bytes, bytes]] = []
            node: MessageNode | None = by_id[cut.ref]
            while node is not None:
                chain.append((node.sep, blob_data[node.blob_hash]))
                node = by_id.get(node.parent_id) if node.parent_id else None
            chain.reverse()
            chains[cut.ref] = chain
    return rebuild_body(parts.skeleton, parts.cuts, blob_data, chains)
