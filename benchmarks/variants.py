"""``nexus serve`` with named changes patched in, to attribute the proxy's costs (benchmark only).

    python benchmarks/variants.py VARIANT[,VARIANT...] serve --proxy-port ... (as ``nexus``)

``proxy_overhead.py --variant`` starts Nexus through this launcher. Nothing here ships: each
variant answers "what would the numbers be if ...", so a proposal comes with its measured effect
before anyone edits the real module.

- ``no-record``: the Tap drops every exchange (no spool write, nothing recorded): the hot path alone.
- ``spool-only``: the spool write stays on the hot path; no recorder process runs, nothing reaches
  the store (the spool grows on disk).
- ``segment-<N>mb`` (e.g. ``segment-1mb``): spool segments of N MB (default 8).
- ``switch-1ms``: ``sys.setswitchinterval(0.001)`` in the proxy process.
- ``gc-log``: time every garbage collection of the proxy process; the counts, totals and worst
  pauses per generation go to its log at exit (``--keep`` keeps ``nexus.log``).
  (It showed a full collection pausing the proxy for 84 ms; ``nexus serve`` now calls
  ``gc.freeze()`` once it serves, and the same collection takes 4.4 ms.)

The recorder process (``python -m nexus.recorder``) runs unpatched in every variant but ``spool-only``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

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
    import asyncio

    from nexus.recorder.supervisor import RecorderSupervisor

    async def never(self: RecorderSupervisor) -> None:
        await asyncio.Event().wait()

    RecorderSupervisor.run = never  # type: ignore[method-assign]


@patch("switch-1ms")
def _switch_1ms() -> None:
    sys.setswitchinterval(0.001)


@patch("gc-log")
def _gc_log() -> None:
    import atexit
    import gc
    import time

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    gen2_in_order: list[float] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])
            if info["generation"] == 2:
                gen2_in_order.append(pauses[2][-1])

    def report() -> None:
        for generation, times in pauses.items():
            if times:
                times.sort()
                print(f"gc gen{generation}: {len(times)} collections, {sum(times) * 1000:.0f} ms"
                      f" in all, p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms,"
                      f" worst {times[-1] * 1000:.2f} ms", file=sys.stderr)  # fmt: skip
        print("gc gen2 pauses in order, ms: "
              + ", ".join(f"{t * 1000:.1f}" for t in gen2_in_order), file=sys.stderr)  # fmt: skip

    gc.callbacks.append(timed)
    atexit.register(report)


def _segment(megabytes: int) -> None:
    from nexus.recorder import spool

    init = spool.Spool.__init__

    def sized(self: spool.Spool, directory: Path, *, segment_bytes: int = megabytes << 20) -> None:
        init(self, directory, segment_bytes=segment_bytes)

    spool.Spool.__init__ = sized  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    names = [n for n in argv[0].split(",") if n and n != "baseline"]
    for name in names:
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
