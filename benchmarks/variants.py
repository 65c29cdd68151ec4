"""``nexus serve`` with named changes patched in, to attribute the proxy's costs (benchmark only).

    python benchmarks/variants.py VARIANT[,VARIANT...] serve --proxy-port ... (as ``nexus``)

``proxy_overhead.py --variant`` starts Nexus through this launcher. Nothing here ships: each
variant answers "what would the numbers be if ...", so a proposal comes with its measured effect
before anyone edits the real module.

- ``no-record``: the Tap drops every exchange (no spool, no writer work): the hot path alone.
- ``spool-only``: the spool write stays on the hot path; nothing reaches the store.
- ``no-link``: the writer stores records but the conversation linker does nothing.
- ``prepare-thread``: the store's ``prepare_batch`` (body decomposition and compression) runs in
  the writer's worker thread instead of on the event loop.
- ``replay-skip``: a spool replay derives and writes only records this process has not already
  stored (today a replayed segment is decomposed whole, then the store drops the duplicates).
- ``switch-1ms``: ``sys.setswitchinterval(0.001)``: a writer thread holding the GIL gives it back
  to the event loop after 1 ms instead of 5.
- ``fast-decompose``: body spans are found by parsing with orjson and re-serialising each piece
  (an exact byte match, else the tokenizer), instead of tokenizing the whole body in Python.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

PATCHES: dict[str, Callable[[], None]] = {}


def patch(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        PATCHES[name] = fn
        return fn

    return register


@patch("no-record")
def _no_record() -> None:
    from nexus.recorder.tap import Tap

    Tap.put_nowait = lambda self, exchange: None  # type: ignore[method-assign]


@patch("spool-only")
def _spool_only() -> None:
    from nexus.recorder.tap import Tap

    def put_nowait(self: Tap, exchange: Any) -> None:
        segment = self.spool.append(exchange)
        self.spool.committed([segment])  # lets the segment be deleted, as after a store write

    Tap.put_nowait = put_nowait  # type: ignore[method-assign]


@patch("no-link")
def _no_link() -> None:
    from nexus import server

    async def nothing(self: Any, records: Sequence[Any] = ()) -> None:
        return None

    server._LiveLinking.__call__ = nothing  # type: ignore[method-assign]
    server._LiveLinking.catch_up = nothing  # type: ignore[method-assign]


@patch("prepare-thread")
def _prepare_thread() -> None:
    from nexus.recorder.writer import Writer
    from nexus.store import core

    original = core.prepare_batch
    ready: dict[int, Any] = {}
    derive = Writer._derive

    def derive_and_prepare(self: Writer, exchanges: list[Any]) -> list[Any]:
        records = derive(self, exchanges)
        # The writer is sequential: nothing updates the known-blob set while this runs.
        ready[id(records)] = (records, original(records, self.store._known_blobs))  # type: ignore[attr-defined]
        return records

    def prepare_batch(records: Any, known: Any) -> Any:
        found = ready.pop(id(records), None)
        if found is not None and found[0] is records:
            return found[1]
        return original(records, known)

    Writer._derive = derive_and_prepare  # type: ignore[method-assign]
    core.prepare_batch = prepare_batch


@patch("replay-skip")
def _replay_skip() -> None:
    from nexus.recorder.writer import Writer

    derive, store = Writer._derive, Writer._store
    stored: set[str] = set()

    def derive_missing(self: Writer, exchanges: list[Any]) -> list[Any]:
        return derive(self, [ex for ex in exchanges if ex.id not in stored])

    async def store_and_remember(self: Writer, records: list[Any]) -> bool:
        ok = await store(self, records)
        if ok:
            if len(stored) > 500_000:
                stored.clear()
            stored.update(r.exchange.id for r in records)
        return ok

    Writer._derive = derive_missing  # type: ignore[method-assign]
    Writer._store = store_and_remember  # type: ignore[method-assign]


@patch("switch-1ms")
def _switch_1ms() -> None:
    sys.setswitchinterval(0.001)


@patch("fast-decompose")
def _fast_decompose() -> None:
    from nexus.store import content

    tokenizer = content._top_level_spans
    wanted = {"system", "tools", "messages"}

    def spans(body: bytes) -> dict[bytes, tuple[int, int, list[tuple[int, int]]]]:
        found = _spans_by_reserialising(body, wanted)
        return found if found is not None else tokenizer(body)

    content._top_level_spans = spans


def _spans_by_reserialising(
    body: bytes, wanted: set[str]
) -> dict[bytes, tuple[int, int, list[tuple[int, int]]]] | None:
    """Spans of the wanted top-level values when the body is compact JSON exactly as orjson would
    write it (JSON.stringify's output usually is); None otherwise (the caller tokenizes)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or body[:1] != b"{":
        return None
    out: dict[bytes, tuple[int, int, list[tuple[int, int]]]] = {}
    pos = 1
    for i, (key, value) in enumerate(parsed.items()):
        if i:
            if body[pos : pos + 1] != b",":
                return None
            pos += 1
        key_bytes = orjson.dumps(key) + b":"
        if body[pos : pos + len(key_bytes)] != key_bytes:
            return None
        pos += len(key_bytes)
        if key == "messages" and isinstance(value, list) and value:
            start, elements = pos, []
            if body[pos : pos + 1] != b"[":
                return None
            pos += 1
            for j, element in enumerate(value):
                if j:
                    if body[pos : pos + 1] != b",":
                        return None
                    pos += 1
                data = orjson.dumps(element)
                if body[pos : pos + len(data)] != data:
                    return None
                elements.append((pos, pos + len(data)))
                pos += len(data)
            if body[pos : pos + 1] != b"]":
                return None
            pos += 1
            out[b'"messages"'] = (start, pos, elements)
            continue
        data = orjson.dumps(value)
        if body[pos : pos + len(data)] != data:
            return None
        if key in wanted:
            out[key_bytes[:-1]] = (pos, pos + len(data), [])
        pos += len(data)
    return out if body[pos:] == b"}" else None


def main(argv: list[str]) -> None:
    names = [n for n in argv[0].split(",") if n and n != "baseline"]
    for name in names:
        if name not in PATCHES:
            raise SystemExit(f"unknown variant {name!r}; known: {', '.join(PATCHES)}")
        PATCHES[name]()
    sys.argv = ["nexus", *argv[1:]]
    from nexus.cli.main import main as nexus_main

    nexus_main()


if __name__ == "__main__":
    main(sys.argv[1:])
