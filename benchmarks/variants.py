"""``nexus serve`` with named changes patched in, to attribute the proxy's costs (benchmark only).

    python benchmarks/variants.py VARIANT[,VARIANT...] serve --proxy-port ... (as ``nexus``)

``proxy_overhead.py --variant`` starts Nexus through this launcher. Nothing here ships: each
variant answers "what would the numbers be if ...", so a proposal comes with its measured effect
before anyone edits the real module.

- ``no-record``: the Tap drops every exchange (no spool, no writer work): the hot path alone.
- ``spool-only``: the spool write stays on the hot path; nothing reaches the store.
- ``no-link``: the writer stores records but the conversation linker does nothing.
- ``replay-skip``: a spool replay derives and writes only records this process has not already
  stored (today a replayed segment is decomposed whole, then the store drops the duplicates).
- ``pending-<N>mb`` (e.g. ``pending-64mb``): the Tap keeps at most N MB of bodies queued in
  memory (default 256 MB); past it records wait in the spool on disk and are replayed from there.
- ``segment-<N>mb`` (e.g. ``segment-8mb``): spool segments of N MB (default 32): a replay reads
  and decodes one segment at a time, so this bounds its memory.
- ``coalesce-50ms``: the writer waits up to 50 ms for a batch to fill before writing a short
  one, so per-batch costs (thread hops, transactions, linker index) are shared by more records.
- ``switch-1ms``: ``sys.setswitchinterval(0.001)``: a writer thread holding the GIL gives it back
  to the event loop after 1 ms instead of 5.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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

    async def idle(self: Any, stop: Any) -> None:
        await stop.wait()

    server._LiveLinking.__call__ = nothing  # type: ignore[method-assign]
    server._LiveLinking.catch_up_forever = idle  # type: ignore[method-assign]


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


def _pending(megabytes: int) -> None:
    from nexus.recorder.tap import Tap

    init = Tap.__init__

    def bounded(self: Tap, spool: Any, *, max_pending_bytes: int = megabytes << 20) -> None:
        init(self, spool, max_pending_bytes=max_pending_bytes)

    Tap.__init__ = bounded  # type: ignore[method-assign]


@patch("coalesce-50ms")
def _coalesce() -> None:
    import asyncio

    from nexus.recorder.writer import Writer

    write = Writer._write

    async def coalescing(self: Writer, batch: list[Any]) -> None:
        if len(batch) < self.batch_items:
            await asyncio.sleep(0.05)
            batch = batch + self.tap.drain(self.batch_items - len(batch), self.batch_bytes)
        await write(self, batch)

    Writer._write = coalescing  # type: ignore[method-assign]


@patch("switch-1ms")
def _switch_1ms() -> None:
    sys.setswitchinterval(0.001)


def _segment(megabytes: int) -> None:
    from nexus.recorder import spool

    post_init = spool.Spool.__post_init__

    def smaller(self: spool.Spool) -> None:
        if self.segment_bytes == spool._SEGMENT_BYTES:
            self.segment_bytes = megabytes << 20
        post_init(self)

    spool.Spool.__post_init__ = smaller  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    names = [n for n in argv[0].split(",") if n and n != "baseline"]
    for name in names:
        if name.startswith("pending-") and name.endswith("mb"):
            _pending(int(name.removeprefix("pending-").removesuffix("mb")))
            continue
        if name.startswith("segment-") and name.endswith("mb"):
            _segment(int(name.removeprefix("segment-").removesuffix("mb")))
            continue
        if name not in PATCHES:
            raise SystemExit(f"unknown variant {name!r}; known: {', '.join(PATCHES)}")
        PATCHES[name]()
    sys.argv = ["nexus", *argv[1:]]
    from nexus.cli.main import main as nexus_main

    nexus_main()


if __name__ == "__main__":
    main(sys.argv[1:])
