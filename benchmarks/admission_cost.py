"""What admission costs the proxy per call, in process: no server, no sockets, no event loop.

``limits_overhead.py`` measures the same thing end to end, where the machine's noise is ten times
the effect. Here one ``Forwarder`` (with the upstream call stubbed out: it answers 200 at once)
handles prepared requests of the hosts built as there: "on" has 100 named keys under every limit,
"guard" the same plus the runaway guard, "off" and "off2" one shared key and no policy (off2 − off:
the A/A noise). A call runs
``Forwarder.handle`` exactly as the proxy does up to the upstream request: host check, grant (key
look-up), the JSON check, the body facts the policy needs and ``Limiter.admit``. The counter book
holds a recorded row per scope, as a running server's feed leaves it.

Two measures:

- time (default): per call ``perf_counter_ns``; the sides take turns in blocks of ``--block``
  calls, ``--rounds`` times; medians per side, on − off, guard − off and off2 − off. Then
  ``--steps``: the admission steps of the "guard" side timed alone (median of many repeats on one
  body). ``--thrash MB`` writes that much memory before each timed call (or step): in a running
  server the admission path finds its code and data evicted from the CPU's caches by the bodies,
  sockets and other processes between calls, and 48 MB (more than this machine's last-level
  cache) reproduces the server's figures, where a warm loop measures a third of them.
- ``--callgrind``: instructions per call under ``valgrind --tool=callgrind`` (deterministic: the
  machine's load does not move it), and with ``--cache-sim`` the cache misses valgrind's model
  counts: each side run with ``--calls N`` and with none, the difference over N (minutes per side).

    .venv/bin/python benchmarks/admission_cost.py [--rounds 20 --block 50] [--steps] [--thrash 48]
    .venv/bin/python benchmarks/admission_cost.py --callgrind [--calls 400] [--sides on,off] [--cache-sim]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from bodies import Session  # noqa: E402
from limits_overhead import HOSTS, write_credentials  # noqa: E402

from nexus.limits.counters import CounterBook  # noqa: E402
from nexus.limits.limiter import Limiter  # noqa: E402
from nexus.limits.runaway import repeated_tool_call  # noqa: E402
from nexus.proxy import forward  # noqa: E402
from nexus.proxy.credentials import Credentials  # noqa: E402
from nexus.proxy.forward import Forwarder, IncomingRequest, Reply  # noqa: E402
from nexus.records import CounterRow, Exchange  # noqa: E402

SIDES = HOSTS
_LIMITED = ("on", "guard")
SESSIONS = 8  # distinct conversations per side, so bodies and session ids vary as in use


class _NoTap:
    def put_nowait(self, exchange: Exchange) -> None:
        pass


async def _answered(call: Any, *, retried: bool = False) -> Reply:
    return Reply(200, [])


def build(
    folder: Path, sides: tuple[str, ...] = tuple(SIDES)
) -> tuple[Forwarder, Credentials, Limiter, dict[str, list[IncomingRequest]]]:
    keys, shared = write_credentials(folder)
    credentials = Credentials(folder, token_url="http://127.0.0.1:9/token", recheck_s=3600)
    book = CounterBook("bench")
    limiter = Limiter(book)
    forwarder = Forwarder(
        upstream_url="http://127.0.0.1:9", tap=_NoTap(), gatekeeper=credentials, limiter=limiter
    )
    forwarder._forward = _answered  # type: ignore[method-assign]
    now = int(time.time() * 1000)
    windows = book.windows(now)
    rows = []
    scopes = ["account:bench"]
    for side in _LIMITED:
        scopes.append(f"host:{SIDES[side]}")
        scopes += [f"client:person-{i:03d}@{SIDES[side]}" for i in range(len(keys))]
    for scope in scopes:  # one recorded call per window: tokens and cost have a step
        for kind, start, end in windows.all:
            rows.append(CounterRow(scope, kind, start, end, "other", 1, 2000, 30_000, now))
    book.apply(rows)
    requests: dict[str, list[IncomingRequest]] = {}
    for side in sides:
        host = SIDES[side]
        key_list = keys if side in _LIMITED else [shared]
        out = requests[side] = []
        for s in range(SESSIONS):
            session = Session(s, stream=False)
            for n in range(8):
                headers, body = session.request(
                    n * 3, api_key=key_list[(s * 37 + n) % len(key_list)]
                )
                pairs = tuple((k, v) for k, v in {**headers, "host": host}.items())
                out.append(
                    IncomingRequest("POST", "/v1/messages", "/v1/messages", "", pairs, body, host)
                )
    return forwarder, credentials, limiter, requests


def run_once(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never really waits (the admission path does not) to its end."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the call awaited something: not the admission path")


class Thrash:
    """Evicts the CPU's caches before a timed call: writes one byte per 64-byte line of ``mb`` MB."""

    def __init__(self, mb: int) -> None:
        self._buffer = bytearray(mb * 1024 * 1024)
        self._fill = b"x" * (len(self._buffer) // 64)

    def __call__(self) -> None:
        if self._fill:
            self._buffer[::64] = self._fill


def timed(
    forwarder: Forwarder, requests: dict[str, list[IncomingRequest]], args: argparse.Namespace
) -> None:
    times: dict[str, list[int]] = {side: [] for side in SIDES}
    per_round: dict[str, list[float]] = {side: [] for side in SIDES}
    order = list(SIDES)
    clock = time.perf_counter_ns
    thrash = Thrash(args.thrash)
    for side in SIDES:  # warm every cache once
        for request in requests[side]:
            run_once(forwarder.handle(request))
    for _ in range(args.rounds):
        order = order[1:] + order[:1]
        this_round: dict[str, list[int]] = {side: [] for side in SIDES}
        for b in range(args.blocks):
            for side in order:
                reqs = requests[side]
                for i in range(args.block):
                    request = reqs[(b * args.block + i) % len(reqs)]
                    thrash()
                    t0 = clock()
                    reply = run_once(forwarder.handle(request))
                    this_round[side].append(clock() - t0)
                    if reply.status != 200:
                        raise SystemExit(f"{side}: {reply.status} {reply.body[:200]!r}")
        for side in SIDES:
            times[side] += this_round[side]
            per_round[side].append(statistics.median(this_round[side]) / 1000)
    med = {side: statistics.median(times[side]) / 1000 for side in SIDES}
    cold = f", caches evicted before each call ({args.thrash} MB)" if args.thrash else ""
    print(f"per call, µs (median of {len(times['on'])} calls per side{cold}; load {_load()})")
    for side in SIDES:
        print(f"  {side:<5} {med[side]:8.2f}")
    for side in _LIMITED:
        rounds = [b - a for a, b in zip(per_round["off"], per_round[side], strict=True)]
        print(
            f"  {side + ' - off':<12}{med[side] - med['off']:+8.2f}  (rounds: median "
            f"{statistics.median(rounds):+.2f}, range {min(rounds):+.2f} .. {max(rounds):+.2f})"
        )
    aa_rounds = [abs(b - a) for a, b in zip(per_round["off"], per_round["off2"], strict=True)]
    print(
        f"  {'off2 - off':<12}{med['off2'] - med['off']:+8.2f}  (rounds: largest |A/A| "
        f"{max(aa_rounds):.2f})"
    )


def steps(
    forwarder: Forwarder,
    credentials: Credentials,
    limiter: Limiter,
    requests: dict[str, list[IncomingRequest]],
    args: argparse.Namespace,
) -> None:
    """The "guard" side's admission steps, each timed alone on one request (median of repeats)."""
    on, off = requests["guard"][5], requests["off"][5]
    head_on = forward._header_map(on.headers)
    head_off = forward._header_map(off.headers)
    grant_on = run_once(credentials.grant(on.host, head_on))
    subject = grant_on.subject
    assert subject is not None
    facts = forward._check_json(on.body, subject, head_on)

    doc_holder: list[Any] = []

    def with_doc(fn: Callable[[Any], object]) -> Callable[[], object]:
        return lambda: fn(doc_holder[0])

    cap = subject.streak_cap
    cases: list[tuple[str, Callable[[], object]]] = [
        ("grant, 100 named keys (memo hit)", lambda: run_once(credentials.grant(on.host, head_on))),
        ("grant, one shared key", lambda: run_once(credentials.grant(off.host, head_off))),
        ("body facts (parsed document)",
         with_doc(lambda doc: forward._facts(doc, subject, head_on))),
        ("  model", with_doc(lambda doc: doc[b"model"])),
        ("  top-level keys read", with_doc(lambda doc: sum(key == "model" for key in doc))),
        ("  messages looked up", with_doc(lambda doc: doc[b"messages"])),
        ("  tail read (repeated_tool_call)",
         with_doc(lambda doc: repeated_tool_call(doc[b"messages"], cap))),
        ("limiter.admit", lambda: limiter.admit(subject, facts)),
    ]  # fmt: skip
    doc_holder.append(forward._simd.parse(on.body))
    clock = time.perf_counter_ns
    thrash = Thrash(args.thrash)
    print(f"\nsteps of one 'guard' call ({len(on.body) // 1024} KB body), µs, median of "
          f"{args.repeats}:")  # fmt: skip
    for name, fn in cases:
        samples = []
        for _ in range(args.repeats):
            thrash()
            t0 = clock()
            fn()
            samples.append(clock() - t0)
        print(f"  {name:<36}{statistics.median(samples) / 1000:8.2f}")
    doc_holder.clear()


def callgrind(args: argparse.Namespace) -> None:
    """Events per call of each side: (count with N calls − count with none) / N. Instructions
    always; with ``--cache-sim`` also first-level and last-level cache misses (valgrind's model of
    this machine's caches: where the admission path's cost on a cold cache comes from)."""
    sides = args.sides.split(",")
    per_call: dict[str, dict[str, float]] = {}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    extra = ["--cache-sim=yes"] if args.cache_sim else []
    with tempfile.TemporaryDirectory(prefix="nexus-admission-cg-") as tmp:
        for side in sides:
            totals = []
            for calls in (0, args.calls):
                out = Path(tmp) / f"{side}-{calls}.out"
                subprocess.run(
                    ["valgrind", "--tool=callgrind", *extra, f"--callgrind-out-file={out}",
                     sys.executable, __file__, "--side", side, "--calls", str(calls)],
                    check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                totals.append(_totals(out))
            per_call[side] = {
                event: (totals[1][event] - totals[0][event]) / args.calls for event in totals[1]
            }
    events = list(per_call[sides[0]])
    print(f"per call (callgrind, {args.calls} calls per side; Ir: instructions, D1mr/D1mw: "
          "first-level data read/write misses, DLmr/DLmw: last-level)")  # fmt: skip
    print(f"  {'':<11}" + "".join(f"{event:>12}" for event in events))
    for side in sides:
        print(f"  {side:<11}" + "".join(f"{per_call[side][e]:12,.0f}" for e in events))
    for side in sides:
        if side != "off" and "off" in per_call:
            row = "".join(f"{per_call[side][e] - per_call['off'][e]:+12,.0f}" for e in events)
            print(f"  {side + ' - off':<11}{row}")


def _totals(path: Path) -> dict[str, int]:
    text = path.read_text()
    names = re.search(r"^events:\s+(.+)$", text, re.MULTILINE)
    found = re.search(r"^(?:totals|summary):\s+(.+)$", text, re.MULTILINE)
    if names is None or found is None:
        raise SystemExit(f"no totals in {path}")
    return dict(zip(names.group(1).split(), map(int, found.group(1).split()), strict=True))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=4, help="blocks per side per round")
    parser.add_argument("--block", type=int, default=50, help="calls per block")
    parser.add_argument("--steps", action="store_true", help="also time each admission step")
    parser.add_argument("--repeats", type=int, default=3000, help="repeats per step")
    parser.add_argument("--thrash", type=int, default=0, metavar="MB",
                        help="evict the CPU's caches before each timed call: write MB of memory")  # fmt: skip
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead")
    parser.add_argument("--calls", type=int, default=400, help="calls per side (callgrind)")
    parser.add_argument("--sides", default="off,off2,on,guard", help="sides to count (callgrind)")
    parser.add_argument("--cache-sim", action="store_true", help="count cache misses too")
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callgrind:
        callgrind(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="nexus-admission-") as tmp:
        sides = (args.side,) if args.side is not None else tuple(SIDES)
        forwarder, credentials, limiter, requests = build(Path(tmp) / "credentials", sides)
        if args.side is not None:  # one side under callgrind: warm, then the counted calls
            reqs = requests[args.side]
            for request in reqs:
                run_once(forwarder.handle(request))
            for i in range(args.calls):
                run_once(forwarder.handle(reqs[i % len(reqs)]))
            return 0
        timed(forwarder, requests, args)
        if args.steps:
            steps(forwarder, credentials, limiter, requests, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
