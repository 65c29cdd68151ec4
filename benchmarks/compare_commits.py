"""Before/after figures of two Nexus checkouts in one interleaved run: proxy overhead, storage
growth, API and TUI timings, each as a table of before, after, after/before and the noise.

    .venv/bin/python benchmarks/compare_commits.py /work/wt/before /work/wt/after
    .venv/bin/python benchmarks/compare_commits.py /work/wt/before /work/wt/after \\
        --after-ref main --only proxy,tui --rounds 3

BEFORE and AFTER are checkouts (git worktrees), each with its own ``.venv`` (made here when
missing). Every benchmark is this tree's script, so both commits are driven and measured alike:

- proxy (proxy_overhead.py): this tree's load generator and fake API; ``nexus serve`` from the
  checkout, in the checkout's venv (``NEXUS_BENCH_CHECKOUT``, benchmarks/checkout.py).
- storage (storage_growth.py), api (api.py), tui (tui.py): they run Nexus in their own process, so
  they run in the checkout's venv with the checkout's ``nexus`` (and its test fakes) first on the
  path; tui.py's ``nexus serve`` and ``nexus tui`` processes too.

Runs alternate before, after, before, after (``--rounds`` pairs). "before" and "after" are the
medians of each side's runs; A/A and B/B are the largest over the smallest of one side's runs (the
noise of this machine at this moment); "verdict" says "same" when after/before is inside that
noise. The machine is shared: only the ratios of one run mean anything; the load is printed.

API and TUI read a ~100 000-request SQLite store (``--store-dir``). It is seeded once, by the
BEFORE checkout's code (tui.py's seed: api.py's conversations plus one of 500 turns; 5-10 min),
and kept as ``tui100k-base.db``. Each side reads its own copy, opened once by its own code before
any timing (migrations applied forward, statistics gathered where that code does), named by the
side and the tree hash of its migrations folder, so a new migration on main makes a new copy.
Delete the files to seed again.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("proxy", "storage", "api", "tui")
LOWER, HIGHER = "lower is better", "higher is better"


@dataclass
class Side:
    label: str  # "before" | "after"
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.root), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def describe(self) -> str:
        return self.git("log", "-1", "--format=%h %ad %s", "--date=format:%Y-%m-%d %H:%M")[:110]


# Each parser turns a script's output into {metric: value}; the metric's direction beside it.
Figures = dict[str, tuple[float, str]]


@dataclass
class Bench:
    name: str
    title: str
    script: str
    in_checkout: bool  # True: runs in the checkout's venv; False: this venv drives it
    args: Callable[[argparse.Namespace, Side], list[str]]
    parse: Callable[[str], Figures]
    runs: list[tuple[str, Figures, float]] = field(default_factory=list)  # (side, figures, s)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def parse_proxy(out: str) -> Figures:
    figures: Figures = {}
    rows: dict[tuple[str, str, str], list[str]] = {}
    last: tuple[str, str] | None = None
    for line in out.splitlines():
        cells = line.split()
        if len(cells) >= 9 and cells[0] in ("json", "stream") and cells[2] in ("direct", "nexus"):
            rows[(cells[0], cells[1], cells[2])] = cells
            last = (cells[0], cells[1])
        elif cells[:1] == ["added"] and last is not None:
            rows[(*last, "added")] = cells
    for (mode, level, target), cells in rows.items():
        cell, single = f"{mode} c={level}", level == "1"
        # At c=16 (closed loop) latency is queueing: req/s and p99 tell; at c=1 the added time.
        if target == "added" and single:
            figures[f"{cell}: added p50 ms (through - direct)"] = (_num(cells[1]), LOWER)
            if mode == "stream":
                figures[f"{cell}: added TTFB p50 ms"] = (_num(cells[3]), LOWER)
        elif target == "nexus":
            if single:
                figures[f"{cell}: p50 ms"] = (_num(cells[4]), LOWER)
            figures[f"{cell}: p99 ms"] = (_num(cells[5]), LOWER)
            if not single:
                figures[f"{cell}: req/s"] = (_num(cells[7]), HIGHER)
            if cells[8] != "-":
                figures[f"{cell}: own time p50 ms (x-nexus-overhead-ms)"] = (_num(cells[8]), LOWER)
            figures[f"{cell}: proxy CPU ms/req"] = (_num(cells[9]), LOWER)
    for mode in ("json", "stream"):
        for level in {k[1] for k in rows}:
            direct, nexus = rows.get((mode, level, "direct")), rows.get((mode, level, "nexus"))
            if direct and nexus and int(level.split("@")[0]) > 1:
                ratio = _num(nexus[7]) / max(_num(direct[7]), 1e-9)
                figures[f"{mode} c={level}: req/s through / direct"] = (ratio, HIGHER)
    if m := re.search(r"until caught up: [\d.]+ s, ([\d.]+) ms per request", out):
        figures["CPU per request, proxy + recorder, whole run ms"] = (_num(m[1]), LOWER)
    if m := re.search(r"both peaks (\d+) MB", out):
        figures["peak RSS, proxy + recorder MB"] = (_num(m[1]), LOWER)
    if m := re.search(r"records stored / requests sent through Nexus: (\d+) / (\d+)", out):
        figures["records stored / sent"] = (_num(m[1]) / max(_num(m[2]), 1), HIGHER)
    return figures


def parse_storage(out: str) -> Figures:
    figures: Figures = {}
    backend = ""
    for line in out.splitlines():
        if m := re.match(r"\[(\w+)\] (\d+) requests recorded in ([\d.]+) s", line):
            backend = m[1]
            figures[f"{backend}: seconds to send and store"] = (_num(m[3]), LOWER)
        elif m := re.match(r"\s+store size on disk \(delta\)\s+([\d.]+) MB", line):
            figures[f"{backend}: store size MB"] = (_num(m[1]), LOWER)
        elif m := re.match(r"\s+store / unique\s+([\d.]+) x", line):
            figures[f"{backend}: store / unique content"] = (_num(m[1]), LOWER)
        elif m := re.match(r"\s+unique content, total\s+([\d.]+) MB", line):
            figures[f"{backend}: unique content MB (the input)"] = (_num(m[1]), LOWER)
    return figures


def parse_api(out: str) -> Figures:
    figures: Figures = {}
    table = False
    for line in out.splitlines():
        if re.match(r"\w+: [\d,]+ requests, \d+ calls per endpoint", line):
            table = True
        elif table and (m := re.match(r"\s{2}(\S.*?)\s+([\d.]+)\s+([\d.]+)(\s+←.*)?$", line)):
            figures[f"{m[1]} p50 ms"] = (_num(m[2]), LOWER)
            figures[f"{m[1]} p99 ms"] = (_num(m[3]), LOWER)
    return figures


def parse_tui(out: str) -> Figures:
    figures: Figures = {}
    for line in out.splitlines():
        m = re.match(r"\s+(\S.*?):?\s+median\s+([\d.]+) ms \(\s*([\d.]+)\)", line)
        if m:
            figures[f"{m[1]} ms"] = (_num(m[2]), LOWER)
            if m[1].startswith("cold start"):
                figures[f"{m[1]}, TUI CPU ms"] = (_num(m[3]), LOWER)
    return figures


def make_benches() -> dict[str, Bench]:
    def proxy_args(a: argparse.Namespace, side: Side) -> list[str]:
        return ["--requests", str(a.proxy_requests), "--requests-c1", str(a.proxy_requests_c1),
                "--warmup", str(a.proxy_warmup), "--paced", "--no-bare"]  # fmt: skip

    def storage_args(a: argparse.Namespace, side: Side) -> list[str]:
        return ["--backend", a.storage_backend, "--turns", str(a.storage_turns)]

    def api_args(a: argparse.Namespace, side: Side) -> list[str]:
        return ["--backend", "sqlite", "--db", str(side_store(a, side)), "--keep",
                "--samples", str(a.api_samples)]  # fmt: skip

    def tui_args(a: argparse.Namespace, side: Side) -> list[str]:
        return ["--db", str(side_store(a, side)), "--runs", str(a.tui_runs)]

    return {
        "proxy": Bench("proxy", "Proxy overhead", "proxy_overhead.py", False, proxy_args,
                       parse_proxy),
        "storage": Bench("storage", "Storage growth", "storage_growth.py", True, storage_args,
                         parse_storage),
        "api": Bench("api", "API timings (SQLite, ~100 000 requests)", "api.py", True, api_args,
                     parse_api),
        "tui": Bench("tui", "TUI timings (SQLite, ~100 000 requests)", "tui.py", True, tui_args,
                     parse_tui),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Checkouts and stores


def prepare_side(side: Side, ref: str | None) -> None:
    if ref is not None:
        old = side.git("rev-parse", "HEAD")
        side.git("checkout", "-q", "--detach", ref)
        new = side.git("rev-parse", "HEAD")
        changed = old != new and bool(
            side.git("diff", "--name-only", old, new, "--", "pyproject.toml")
        )
        if changed:  # new dependencies: the editable install itself follows the tree
            install(side)
    if not side.python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(side.root / ".venv")], check=True)
        install(side)


def install(side: Side) -> None:
    print(f"  pip install -e '.[test]' in {side.root}", file=sys.stderr, flush=True)
    subprocess.run([str(side.python), "-m", "pip", "install", "-q", "-e", ".[test]"],
                   cwd=side.root, check=True)  # fmt: skip


def side_store(args: argparse.Namespace, side: Side) -> Path:
    """This side's copy of the seeded store, keyed by its migrations (one copy per schema)."""
    tree = side.git("rev-parse", "HEAD:nexus/store/migrations")[:12]
    # per side too: one side's code may leave things (planner statistics) the other would not
    return Path(args.store_dir) / f"tui100k-{side.label}-{tree}.db"


def prepare_stores(args: argparse.Namespace, before: Side, sides: list[Side]) -> None:
    base = Path(args.store_dir) / "tui100k-base.db"
    base.parent.mkdir(parents=True, exist_ok=True)
    if not base.exists():
        print(f"seeding {base} with the before checkout's code (5-10 min)…", file=sys.stderr)
        run_side_script(before, "tui.py", ["--db", str(base), "--seed-only"], True, check=True)
    for side in sides:
        store = side_store(args, side)
        if store.exists():
            continue
        print(f"copying the seeded store for {side.label}: {store}", file=sys.stderr, flush=True)
        with sqlite3.connect(base) as src, sqlite3.connect(store) as dst:
            src.backup(dst)  # a consistent copy, whatever the base's WAL holds
    for side in sides:  # opened once by its own code: migrations, statistics; no timing yet
        run_side_script(side, "tui.py", ["--db", str(side_store(args, side)), "--seed-only"],
                        True, check=True)  # fmt: skip


def run_side_script(
    side: Side, script: str, args: list[str], in_checkout: bool, check: bool = False
) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "PYTHON"))}
    env["NEXUS_BENCH_CHECKOUT"] = str(side.root)
    python = side.python if in_checkout else Path(sys.executable)
    # cwd: the checkout, so nothing imports this tree's nexus by accident (``-m`` looks there first)
    proc = subprocess.run([str(python), str(HERE / script), *args], cwd=side.root, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if check and proc.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed in {side.root}:\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr, proc.returncode


# ---------------------------------------------------------------------------------------------
# Report


def spread(values: list[float]) -> float:
    """Largest over smallest of one side's runs (1.0 with one run)."""
    if len(values) < 2 or min(values) <= 0:
        return float("nan") if len(values) >= 2 else 1.0
    return max(values) / min(values)


def verdict(ratio: float, noise: float, direction: str, runs: int) -> str:
    """ "same" inside the noise; "?" when there is no noise to judge by (one run a side) or no
    ratio (a value at or below zero, as a difference of two latencies can be)."""
    if ratio != ratio or noise != noise or runs < 2 or ratio <= 0:
        return "?"
    if max(ratio, 1 / ratio if ratio else float("inf")) <= noise:
        return "same"
    better = ratio < 1 if direction == LOWER else ratio > 1
    return "better" if better else "worse"


def report(bench: Bench, sides: list[Side]) -> list[str]:
    by_side: dict[str, dict[str, list[float]]] = {s.label: {} for s in sides}
    directions: dict[str, str] = {}
    for label, figures, _ in bench.runs:
        for metric, (value, direction) in figures.items():
            by_side[label].setdefault(metric, []).append(value)
            directions[metric] = direction
    width = max([len(m) for m in directions] + [30])
    lines = [
        f"{'metric':<{width}} {'before':>10} {'after':>10} {'after/before':>13} {'A/A':>6}"
        f" {'B/B':>6}  verdict"
    ]
    lines.append("-" * len(lines[0]))
    for metric in directions:
        a, b = by_side["before"].get(metric, []), by_side["after"].get(metric, [])
        if not a or not b:
            lines.append(f"{metric:<{width}} {'missing on ' + ('before' if not a else 'after')}")
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if ma > 0 and mb >= 0 else float("nan")
        aa, bb = spread(a), spread(b)
        noise = max(aa, bb) if aa == aa and bb == bb else float("nan")  # nan: no noise known
        lines.append(
            f"{metric:<{width}} {ma:>10.3g} {mb:>10.3g} {ratio:>13.3f} {aa:>6.2f} {bb:>6.2f}"
            f"  {verdict(ratio, noise, directions[metric], min(len(a), len(b)))}"
        )
    seconds = [s for _, _, s in bench.runs]
    lines.append(f"({len(bench.runs)} runs, {sum(seconds):.0f} s; A/A, B/B: largest / smallest"
                 " of one side's runs; 'same' = after/before inside that noise)")  # fmt: skip
    return lines


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )  # fmt: skip
    parser.add_argument("before", type=Path, help="checkout of the commit before")
    parser.add_argument("after", type=Path, help="checkout of the commit after")
    parser.add_argument(
        "--after-ref", help="first `git checkout --detach REF` in AFTER (e.g. main)"
    )
    parser.add_argument(
        "--only", default=",".join(BENCHES), help="comma list of " + ", ".join(BENCHES)
    )
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="before/after pairs per benchmark (3: ~9 min at load 1-2)",
    )  # fmt: skip
    parser.add_argument("--store-dir", default="/work/bench", help="where the seeded stores live")
    parser.add_argument("--proxy-requests", type=int, default=600, help="per c=16 cell")
    parser.add_argument("--proxy-requests-c1", type=int, default=150, help="per c=1 cell")
    parser.add_argument("--proxy-warmup", type=int, default=30)
    parser.add_argument("--storage-turns", type=int, default=200)
    parser.add_argument("--storage-backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--api-samples", type=int, default=40, help="calls per endpoint")
    parser.add_argument("--tui-runs", type=int, default=2, help="runs inside each tui.py")
    parser.add_argument("--log", type=Path, help="also write every script's whole output here")
    args = parser.parse_args(argv)  # fmt: skip

    started = time.monotonic()
    before = Side("before", args.before.resolve())
    after = Side("after", args.after.resolve())
    sides = [before, after]
    prepare_side(before, None)
    prepare_side(after, args.after_ref)
    chosen = [b for b in args.only.split(",") if b]
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}")
    if {"api", "tui"} & set(chosen):
        prepare_stores(args, before, sides)
    benches = make_benches()
    log = args.log.open("w") if args.log else None
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"before: {before.root} {before.describe()}")
    print(f"after:  {after.root} {after.describe()}")
    print(f"cpus {os.cpu_count()}, load average at start {load()}")
    for name in chosen:
        bench = benches[name]
        for round_ in range(args.rounds):
            for side in sides:  # before, after, before, after: drift hits both alike
                script_args = bench.args(args, side)
                t0 = time.monotonic()
                out, code = run_side_script(side, bench.script, script_args, bench.in_checkout)
                took = time.monotonic() - t0
                figures = bench.parse(out)
                print(f"  {name} round {round_ + 1} {side.label}: {len(figures)} figures in"
                      f" {took:.0f} s (exit {code}, load {load()})", file=sys.stderr, flush=True)  # fmt: skip
                if log:
                    log.write(f"==== {name} round {round_ + 1} {side.label} ({bench.script}"
                              f" {' '.join(script_args)}), exit {code}\n{out}\n")  # fmt: skip
                    log.flush()
                if not figures:
                    print(
                        f"  {name} gave no figures on {side.label}:\n{out[-2000:]}", file=sys.stderr
                    )
                bench.runs.append((side.label, figures, took))
        print(f"\n## {bench.title} ({bench.script} {' '.join(bench.args(args, after))})\n")
        print("\n".join(report(bench, sides)))
        print(f"(load average now {load()})")
    print(f"\nwhole run {time.monotonic() - started:.0f} s, load average at the end {load()}")
    if log:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
