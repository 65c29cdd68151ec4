"""What the linker remembers of recent requests' messages, so the next turn of a conversation is
normalised and hashed only past the history it shares with the previous one.

Claude Code resends the whole history on every turn: normalising it (``normalize.py``) and hashing
every message again costs most of a fingerprint. The memory keeps, per recent request, each raw
message's exact serialisation and the normalisation state after it (hashes, prefix keys, roles,
tool ids: not the normalised messages themselves, which would keep every remembered body's parse
alive); a new request whose leading messages serialise to the same bytes takes that state and
continues from there. The result is the
one ``normalize.py`` computes from scratch (a test checks it over random histories): the shared
messages are equal byte for byte, and normalisation reads nothing else. Bounded; a miss only costs
the work it would have saved. Entries are found by the bytes of the first message.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from nexus.conversations.normalize import (
    Message,
    chain_prefixes,
    first_user_keys,
    is_marker_message,
    marker_line_keys,
    message_hash,
    normalize_message,
    tool_keys,
)


@dataclass(frozen=True, slots=True)
class Normalised:
    """What the fingerprint reads of a request's normalised messages."""

    last: Message | None  # the last normalised message
    prefixes: list[str]  # the prefix keys P_1..P_n
    seen: set[str]  # the tool ids the messages carry ("u:"/"r:" prefixed), for the reply
    first_user_keys: tuple[str, ...]
    marker_index: int  # 1-based index of the last user message with a compaction marker (0: none)
    marker_line_keys: tuple[str, ...]  # the line keys of that message


@dataclass(frozen=True, slots=True)
class _Entry:
    datas: list[bytes]  # each raw message's serialisation
    ends: list[int]  # normalised messages after each raw message
    added: list[tuple[str, ...]]  # tool keys each raw message added
    begins: list[int]  # by normalised message: the raw message it began with
    roles: list[str]
    hashes: list[str]
    prefixes: list[str]
    markers: list[tuple[int, tuple[str, ...]]]  # the last marker message up to this one, its lines
    first_user: int  # index of the first user message (-1: none)
    first_keys: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(len(d) for d in self.datas)


_NO_MARKER: tuple[int, tuple[str, ...]] = (0, ())


class FingerprintMemory:
    """Bounded by the bytes of the messages it holds (``max_bytes``: about 40 histories of 200 KB)."""

    def __init__(self, max_bytes: int = 8 << 20) -> None:
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()  # fingerprints may be computed in worker threads

    def normalise(self, raw: list[Any], given: list[bytes] | None = None) -> Normalised | None:
        """``raw`` normalised, reusing what a remembered request shares with it; None when the
        messages cannot be serialised (nested past orjson's limit): normalise from scratch.
        ``given``: each message's bytes as its body holds them (any JSON text of it will do: equal
        bytes are equal messages, and bytes that differ only cost a miss); kept as they are, so they
        must be exact-size bytes (the cutter's are)."""
        from_cutter = given is not None and len(given) == len(raw) and bool(raw)
        if from_cutter:
            datas = given
        else:
            try:
                datas = [orjson.dumps(m) for m in raw]
            except orjson.JSONEncodeError:
                return None
        if not datas:
            return Normalised(None, [], set(), (), 0, ())
        with self._lock:
            entry = self._entries.get(datas[0])
        shared = 0
        if entry is not None:
            limit = min(len(datas), len(entry.datas))
            while shared < limit and datas[shared] == entry.datas[shared]:
                shared += 1
        start = kept = 0
        if entry is not None and shared and entry.ends[shared - 1]:
            # The last normalised message so far may still grow (a later raw message of the same
            # role merges into it): start again from the raw message that began it. That one
            # began a message before, so it is never merged into the one kept before it.
            kept = entry.ends[shared - 1] - 1
            start = entry.begins[kept]
        ends = entry.ends[:start] if entry else []
        added = entry.added[:start] if entry else []
        begins = entry.begins[:kept] if entry else []
        roles = entry.roles[:kept] if entry else []
        seen = {key for keys in added for key in keys}
        tail: list[Message] = []  # the normalised messages from ``kept`` on
        for index in range(start, len(raw)):
            one = normalize_message(raw[index], seen)
            if one is None:
                added.append(())
            else:
                role, blocks = one
                if tail and tail[-1][0] == role:
                    tail[-1] = (role, tail[-1][1] + blocks)
                else:
                    tail.append((role, blocks))
                    begins.append(index)
                    roles.append(role)
                added.append(tool_keys(blocks))
            ends.append(kept + len(tail))
        hashes = (entry.hashes[:kept] if entry else []) + [message_hash(m) for m in tail]
        prefixes = entry.prefixes[:kept] if entry else []
        prefixes += chain_prefixes(prefixes[-1] if prefixes else "", hashes[kept:])
        markers = entry.markers[:kept] if entry else []
        for k, message in enumerate(tail, start=kept):
            if is_marker_message(message):
                markers.append((k + 1, marker_line_keys(message)))
            else:
                markers.append(markers[-1] if markers else _NO_MARKER)
        if entry is not None and 0 <= entry.first_user < kept:
            first_user, first_keys = entry.first_user, entry.first_keys
        else:
            first_user = roles.index("user") if "user" in roles else -1
            first_keys = first_user_keys(tail)
        # Exact-size copies of the messages' bytes serialised here: orjson leaves each in a buffer
        # about ten times larger, which a memory would keep. ``given`` bytes are kept as they are:
        # the cutter's are exact-size copies its own memory holds, so both memories share them
        # (a copy here doubled them: 8 MB in the recorder, benchmarks/proxy_overhead.py).
        new_datas = (
            datas[shared:] if from_cutter else [memoryview(d).tobytes() for d in datas[shared:]]
        )
        kept_datas = (entry.datas[:shared] if entry else []) + new_datas
        new = _Entry(kept_datas, ends, added, begins, roles, hashes, prefixes, markers, first_user,
                     first_keys)  # fmt: skip
        with self._lock:
            old = self._entries.pop(kept_datas[0], None)
            self._bytes += new.size - (old.size if old else 0)
            self._entries[kept_datas[0]] = new
            while self._bytes > self._max_bytes and len(self._entries) > 1:
                self._bytes -= self._entries.popitem(last=False)[1].size
        marker, lines = markers[-1] if markers else _NO_MARKER
        last = tail[-1] if tail else None
        return Normalised(last, list(prefixes), seen, first_keys, marker, lines)
