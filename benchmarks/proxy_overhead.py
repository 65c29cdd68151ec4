"""What Nexus adds to a call (latency, throughput, memory, recording) against the fake API direct.

One run starts the fake upstream (benchmarks/fake_upstream.py: the test fake) and ``nexus serve``
(SQLite and spool in a temp dir, recording on) as their own processes, then drives both with an
aiohttp client from this process: ~190 KB Claude Code-like bodies (benchmarks/bodies.py),
non-streaming and streaming, at concurrency 1 and 16, first against the fake directly, then
through a bare Quart + aiohttp pass-through (bare_passthrough.py: the framework floor issue 2's
targets were calibrated on; ``--no-bare`` skips it), then through Nexus. It prints p50/p99 total latency, p50 time to first body byte, requests/s, what
Nexus adds (through − direct) and the ratio, CPU per request of each process, the resident memory
(now and peak) of Nexus's two processes (the proxy and its recorder), and records stored / requests
sent once the recorder has caught up;
then checks the targets of issue 2 / DESIGN.md §6. ``--variant`` runs Nexus with patches from
benchmarks/variants.py.

    .venv/bin/python benchmarks/proxy_overhead.py                 # the whole matrix
    .venv/bin/python benchmarks/proxy_overhead.py --pin           # Nexus on CPU 0, the rest on 1
    .venv/bin/python benchmarks/proxy_overhead.py --minutes 2     # soak: RSS every 10 s

Each cell runs closed-loop: ``c`` workers, each sending its next request as soon as the previous
answer has been read (keep-alive, one connection per worker). Bodies are built before the clock
starts so the load generator spends its CPU on sockets only; the machine's cores are still shared
by the load generator, the fake and Nexus, which the README discusses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bodies import TURNS, Session  # noqa: E402
from checkout import checkout, nexus_env, nexus_python  # noqa: E402
from processes import ProcessCpu, count_records, cpu_seconds, fresh_postgres  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.serve_process import recorder_pid  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
# Targets (issue 2, recording on, this 2-core machine; DESIGN.md §6 for the paced cells).
ADDED_P50_MS = 2.0  # at c=1, and at c=16 paced
ADDED_P99_PACED_MS = 10.0
RPS_C16 = {"json": 600.0, "stream": 500.0}
P99_C16_MS = 60.0
RSS_LIMIT_MB = 200.0
# Issue 18: the recorder beside the proxy.
DRAIN_AFTER_C16_S = 2.0  # backlog stored within this after a saturating cell
VISIBLE_P99_MS = 500.0  # at >= 100 req/s, answer -> live-feed event
VISIBLE_WITH_HOGS_MS = 5000.0  # beside CPU-bound processes at normal priority


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after 30 s")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0])
    return values


@dataclass
class Stack:
    """The fake upstream and ``nexus serve``, each a child process."""

    workdir: Path
    pin: bool
    db_url: str = ""  # "" : a SQLite file in workdir
    variant: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    upstream_url: str = ""
    proxy_url: str = ""
    db_path: Path = field(init=False)
    fake: subprocess.Popen[bytes] | None = None
    nexus: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None  # bare_passthrough.py: the floor under Nexus
    bare_url: str = ""
    with_bare: bool = True

    api_url: str = ""

    def __post_init__(self) -> None:
        self.db_path = self.workdir / "nexus.db"
        self.db_url = self.db_url or f"sqlite:///{self.db_path}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "GEMINI"))}
        env.pop("DATABASE_URL", None)
        env.pop("GOOGLE_API_KEY", None)
        env["NEXUS_DATA_DIR"] = str(self.workdir / "data")
        env["NEXUS_CREDENTIALS_DIR"] = str(self.workdir / "credentials")  # none: pass-through
        env["PYTHONPATH"] = str(ROOT)
        return env

    def _nexus_env(self) -> dict[str, str]:
        return {**nexus_env(self._env()), **self.extra_env}

    def _taskset(self, cpu: str) -> list[str]:
        return ["taskset", "-c", cpu] if self.pin and shutil.which("taskset") else []

    def start(self) -> None:
        (self.workdir / "credentials").mkdir(parents=True, exist_ok=True)
        self.fake = subprocess.Popen(
            [*self._taskset("1"), PYTHON, str(HERE / "fake_upstream.py"), "--port", "0"],
            cwd=ROOT, env=self._env(), stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.fake.stdout is not None
        self.upstream_url = self.fake.stdout.readline().decode().strip()
        if not self.upstream_url.startswith("http"):
            raise RuntimeError("the fake upstream did not start")
        proxy_port, api_port = free_port(), free_port()
        launcher = ["-m", "nexus"]
        if self.variant:  # patched for attribution (benchmarks/variants.py)
            launcher = [str(HERE / "variants.py"), self.variant]
        # The Nexus measured: this tree, or the checkout compare_commits.py names (its own venv);
        # the fake, the bare pass-through and the load generator stay this tree's.
        self.nexus = subprocess.Popen(
            [*self._taskset("0"), nexus_python(), *launcher, "serve",
             "--proxy-port", str(proxy_port), "--api-port", str(api_port),
             "--upstream", self.upstream_url, "--db", self.db_url,
             "--log-level", "WARNING"],
            cwd=checkout(), env=self._nexus_env(), stderr=open(self.workdir / "nexus.log", "wb"),
        )  # fmt: skip
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        self.api_url = f"http://127.0.0.1:{api_port}"
        if self.with_bare:
            bare_port = free_port()
            self.bare = subprocess.Popen(
                [*self._taskset("0"), PYTHON, str(HERE / "bare_passthrough.py"),
                 "--port", str(bare_port), "--upstream", self.upstream_url],
                cwd=ROOT, env=self._env(), stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.bare_url = f"http://127.0.0.1:{bare_port}"
            _wait_listening(bare_port, self.bare)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.nexus.poll() is not None:
                raise RuntimeError("nexus serve exited:\n" + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", proxy_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nexus serve did not listen in 30 s:\n" + self.log_tail())

    def log_tail(self) -> str:
        path = self.workdir / "nexus.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def fake_rss_mb(self) -> float:
        assert self.fake is not None
        return proc_status(self.fake.pid)["VmRSS"] / 1024

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the Nexus proxy process, MB."""
        assert self.nexus is not None
        status = proc_status(self.nexus.pid)
        return status["VmRSS"] / 1024, status["VmHWM"] / 1024

    def recorder_pid(self) -> int | None:
        """The recorder process ``nexus serve`` runs beside itself (python -m nexus.recorder)."""
        assert self.nexus is not None
        return recorder_pid(self.nexus.pid)

    def recorder_rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the recorder process, MB (0 when there is none)."""
        pid = self.recorder_pid()
        if pid is None:
            return 0.0, 0.0
        try:
            status = proc_status(pid)
        except OSError:
            return 0.0, 0.0
        return status["VmRSS"] / 1024, status["VmHWM"] / 1024

    def nexus_cpu(self) -> float:
        """CPU seconds of the proxy process and its recorder together."""
        assert self.nexus is not None
        total = cpu_seconds(self.nexus.pid)
        pid = self.recorder_pid()
        if pid is not None:
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass
        return total

    def records(self) -> int:
        return count_records(self.db_url)

    def process_cpu(self) -> ProcessCpu:
        assert self.nexus is not None
        return ProcessCpu(self.nexus.pid, self.recorder_pid(), self.db_url)

    def spool_backlog(self) -> tuple[int, int]:
        """(files, bytes) in Nexus's spool folder: records on disk the store may not have yet."""
        files = list((self.workdir / "data" / "spool").rglob("*.spool"))
        return len(files), sum(f.stat().st_size for f in files)

    def wait_for_records(
        self, expected: int, timeout_s: float = 300.0, stall_s: float = 30.0
    ) -> tuple[int, float]:
        """Poll the store until it holds ``expected`` records, or stops growing for ``stall_s``
        (a spool replay can add no row for a while), or ``timeout_s``; (count, wait s)."""
        start = time.monotonic()
        last, last_change = -1, start
        while True:
            count = self.records()
            now = time.monotonic()
            if count != last:
                last, last_change = count, now
            nothing = count == 0 and now - start > 5  # a variant that records nothing
            if (
                count >= expected
                or nothing
                or now - last_change > stall_s
                or now - start > timeout_s
            ):
                return count, now - start
            time.sleep(0.25)

    def stop(self) -> None:
        for proc in (self.nexus, self.fake, self.bare):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self.nexus, self.fake, self.bare):
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


# ---------------------------------------------------------------------------------------------
# Load


@dataclass
class Cell:
    mode: str  # "json" | "stream"
    concurrency: int
    target: str  # "direct" | "bare" | "nexus"
    rate: float = 0.0  # 0: closed loop; else requests/s in total, paced (open loop)
    latencies: list[float] = field(default_factory=list)  # seconds
    ttfbs: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)  # x-nexus-overhead-ms
    wall_s: float = 0.0
    errors: int = 0
    sent: int = 0
    nexus_cpu_s: float = 0.0
    fake_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    nexus_cpu_start: float = 0.0
    nexus_cpu_settled_s: float = 0.0  # Nexus CPU from the cell's start until the recorder caught up
    # CPU ms per request (warm-up included) from the cell's start until the recorder caught up, by
    # process: proxy, recorder, database (Postgres backends); and how long the catching up took.
    process_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    drain_s: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    @property
    def level(self) -> str:
        return f"{self.concurrency}@{self.rate:g}" if self.rate else str(self.concurrency)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank] * 1000


async def one_request(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes, cell: Cell | None
) -> None:
    t0 = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as resp:
        first = await resp.content.readany()
        t_first = time.perf_counter()
        while await resp.content.readany():
            pass
        t_end = time.perf_counter()
        ok = resp.status == 200 and bool(first)
        overhead = resp.headers.get("x-nexus-overhead-ms")
    if cell is None:
        return
    cell.sent += 1
    if not ok:
        cell.errors += 1
        return
    cell.latencies.append(t_end - t0)
    cell.ttfbs.append(t_first - t0)
    if overhead is not None:
        cell.overheads.append(float(overhead) / 1000)


async def drive(
    base_url: str,
    cell: Cell | None,
    mode: str,
    concurrency: int,
    requests: int,
    first_n: int,
    rate: float = 0.0,
) -> float:
    """Send ``requests`` calls with ``concurrency`` workers, closed-loop (each sends its next call
    when the last is answered) or, with ``rate``, paced: worker i sends its k-th call at
    (k * concurrency + i) / rate seconds, late calls going at once. Returns wall seconds."""
    url = base_url + "/v1/messages?beta=true"
    sessions = [Session(i, stream=(mode == "stream")) for i in range(concurrency)]
    per_worker = [
        requests // concurrency + (i < requests % concurrency) for i in range(concurrency)
    ]
    # Bodies are built before the clock starts: the load generator's CPU goes to sockets only.
    work = [
        [s.request(first_n + k) for k in range(n)]
        for s, n in zip(sessions, per_worker, strict=True)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as http:

        async def worker(index: int, items: list[tuple[dict[str, str], bytes]]) -> None:
            for k, (headers, body) in enumerate(items):
                if rate:
                    due = start + (k * concurrency + index) / rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await one_request(http, url, headers, body, cell)

        start = time.perf_counter()
        await asyncio.gather(*(worker(i, items) for i, items in enumerate(work)))
        return time.perf_counter() - start


def run_cell(
    stack: Stack,
    mode: str,
    concurrency: int,
    target: str,
    requests: int,
    warmup: int,
    seq: int,
    rate: float = 0.0,
) -> Cell:
    base = {"direct": stack.upstream_url, "bare": stack.bare_url}.get(target, stack.proxy_url)
    cell = Cell(mode, concurrency, target, rate)
    loop_run = _runner()
    loop_run(drive(base, None, mode, concurrency, warmup, seq, rate))
    cell.sent = 0
    assert stack.nexus is not None and stack.fake is not None
    cpu0, fake0, client0 = cpu_seconds(stack.nexus.pid), cpu_seconds(stack.fake.pid), _own_cpu()
    stack_cpu0 = stack.nexus_cpu()
    cell.wall_s = loop_run(drive(base, cell, mode, concurrency, requests, seq + warmup, rate))
    cell.nexus_cpu_start = stack_cpu0
    cell.nexus_cpu_s = cpu_seconds(stack.nexus.pid) - cpu0
    cell.fake_cpu_s = cpu_seconds(stack.fake.pid) - fake0
    cell.client_cpu_s = _own_cpu() - client0
    return cell


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _runner():  # type: ignore[no-untyped-def]
    try:
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover
        return asyncio.run


# ---------------------------------------------------------------------------------------------
# Report


def print_table(cells: list[Cell], stack: Stack) -> list[str]:
    """Print the results; return the failed targets."""
    failures: list[str] = []
    head = (
        f"{'mode':<7}{'c':>7} {'target':<8}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'ttfb50':>9}"
        f"{'req/s':>9}{'self ms':>9}  CPU ms/req: proxy (+recorder, until caught up) fake client"
    )
    print(head)
    print("-" * len(head))
    by_key = {(c.mode, c.level, c.target): c for c in cells}
    levels = list(dict.fromkeys(c.level for c in cells))
    for mode in ("json", "stream"):
        for level in levels:
            direct, bare, through = (
                by_key.get((mode, level, "direct")),
                by_key.get((mode, level, "bare")),
                by_key.get((mode, level, "nexus")),
            )
            if through is None:
                continue
            conc, paced, label = through.concurrency, through.rate > 0, f"c={level}"
            for cell in (direct, bare, through):
                if cell is None:
                    continue
                n_ok = max(len(cell.latencies), 1)
                cpu = "".join(
                    f"{v / n_ok * 1000:>6.2f}"
                    for v in (cell.nexus_cpu_s, cell.fake_cpu_s, cell.client_cpu_s)
                )
                if cell.target != "nexus":
                    cpu = f"{'-':>6}{'':>9}{cpu[6:]}"
                else:
                    settled = cell.nexus_cpu_settled_s / n_ok * 1000
                    cpu = f"{cpu[:6]} ({settled:>5.2f}){cpu[6:]}"
                selfms = f"{pct(cell.overheads, 50):.2f}" if cell.overheads else "-"
                ttfb = f"{pct(cell.ttfbs, 50):.2f}" if mode == "stream" else "-"
                err = f"  ({cell.errors} errors)" if cell.errors else ""
                print(
                    f"{mode:<7}{level:>7} {cell.target:<8}{len(cell.latencies):>6}"
                    f"{pct(cell.latencies, 50):>9.2f}{pct(cell.latencies, 99):>9.2f}{ttfb:>9}"
                    f"{cell.rps:>9.0f}{selfms:>9}{'':>13}{cpu}{err}"
                )
            if direct is None or through is None:
                continue
            d50, t50 = pct(direct.latencies, 50), pct(through.latencies, 50)
            d99, t99 = pct(direct.latencies, 99), pct(through.latencies, 99)
            dt, tt = pct(direct.ttfbs, 50), pct(through.ttfbs, 50)
            ttfb_added = f"{tt - dt:+.2f}" if mode == "stream" else "-"
            print(
                f"{'':<15}{'added':<8}{'':>6}{t50 - d50:>+9.2f}{t99 - d99:>+9.2f}{ttfb_added:>9}"
                f"{through.rps - direct.rps:>+9.0f}"
            )
            ttfb_ratio = f"{tt / dt:.2f}" if mode == "stream" else "-"
            print(
                f"{'':<15}{'ratio':<8}{'':>6}{t50 / d50:>9.2f}{t99 / d99:>9.2f}{ttfb_ratio:>9}"
                f"{through.rps / direct.rps:>9.2f}"
            )
            if bare is not None:  # what Nexus adds on top of the bare framework pass-through
                b50, b99, bt = pct(bare.latencies, 50), pct(bare.latencies, 99), pct(bare.ttfbs, 50)
                vs_ttfb = f"{tt - bt:+.2f}" if mode == "stream" else "-"
                print(
                    f"{'':<15}{'vs bare':<8}{'':>6}{t50 - b50:>+9.2f}{t99 - b99:>+9.2f}{vs_ttfb:>9}"
                    f"{through.rps / bare.rps:>9.2f}x"
                )
            if conc == 1 or paced:  # issue 2 at c=1; DESIGN.md §6 at a paced c=16
                if t50 - d50 > ADDED_P50_MS:
                    failures.append(f"{mode} {label} added p50 {t50 - d50:.2f} ms > {ADDED_P50_MS}")
                if mode == "stream" and tt - dt > ADDED_P50_MS:
                    failures.append(f"stream {label} added TTFB {tt - dt:.2f} ms > {ADDED_P50_MS}")
            if paced and t99 - d99 > ADDED_P99_PACED_MS:
                failures.append(
                    f"{mode} {label} added p99 {t99 - d99:.1f} ms > {ADDED_P99_PACED_MS}"
                )
            if conc >= 16 and not paced:
                if through.rps < RPS_C16[mode]:
                    failures.append(f"{mode} {label} {through.rps:.0f} req/s < {RPS_C16[mode]:.0f}")
                if t99 > P99_C16_MS:
                    failures.append(f"{mode} {label} p99 {t99:.1f} ms > {P99_C16_MS}")
            if through.errors or (direct and direct.errors):
                failures.append(f"{mode} {label}: failed requests")
        print()
    return failures


def print_processes(cells: list[Cell], stack: Stack) -> list[str]:
    """CPU per request by process, and the catching up after each Nexus cell (issue 18)."""
    failures: list[str] = []
    database = "postgres" if stack.db_url.startswith("postgresql") else "sqlite"
    print(f"CPU ms per request by process, from each Nexus cell's start until its records were"
          f" stored (warm-up included; database: {database})")  # fmt: skip
    head = (
        f"{'mode':<7}{'c':>7}{'proxy':>9}{'recorder':>10}{'database':>10}{'tree':>9}{'drain s':>9}"
    )
    print(head)
    print("-" * len(head))
    for cell in cells:
        if cell.target != "nexus":
            continue
        proxy, recorder, db = cell.process_ms
        print(f"{cell.mode:<7}{cell.level:>7}{proxy:>9.2f}{recorder:>10.2f}{db:>10.2f}"
              f"{proxy + recorder + db:>9.2f}{cell.drain_s:>9.1f}")  # fmt: skip
        if cell.concurrency >= 16 and not cell.rate and cell.drain_s > DRAIN_AFTER_C16_S:
            failures.append(
                f"{cell.mode} c={cell.level}: backlog stored {cell.drain_s:.1f} s after the cell"
                f" > {DRAIN_AFTER_C16_S:g} s"
            )
    print()
    return failures


def visibility_cell(
    stack: Stack, spec: str, seconds: float, seq: int
) -> tuple[str, list[str], int]:
    """A paced cell through Nexus while the live feed is followed (benchmarks/visibility.py);
    (its report line, missed targets, calls sent)."""
    from visibility import measure, pct, report

    rate_text, _, hogs_text = spec.partition(":")
    rate, hogs = float(rate_text), int(hogs_text or 0)
    result = _runner()(
        measure(stack.proxy_url, stack.api_url, rate, hogs, int(rate * seconds), seq)
    )
    lags = result.lags_ms()
    limit = VISIBLE_WITH_HOGS_MS if hogs else VISIBLE_P99_MS if rate >= 100 else None
    if limit is not None and (result.missing() or pct(lags, 99) > limit):
        unseen = f", {result.missing()} unseen" if result.missing() else ""
        return report(result), [f"visibility at {rate:g} req/s with {hogs} hogs: p99"
                f" {pct(lags, 99):.0f} ms > {limit:.0f} ms{unseen}"], result.sent  # fmt: skip
    return report(result), [], result.sent


# ---------------------------------------------------------------------------------------------
# Modes


def matrix(args: argparse.Namespace, stack: Stack) -> int:
    cells: list[Cell] = []
    seq = 0
    sent_through = 0
    rss_after: list[tuple[str, float]] = []
    assert stack.nexus is not None
    cpu_start = stack.nexus_cpu()
    # Saturating cells last; after each Nexus cell the recorder catches up before the next starts,
    # so no cell pays for the previous one's backlog.
    levels = [(c, 0.0) for c in args.concurrency if c == 1]
    levels += [(max(args.concurrency), rate) for rate in args.paced]
    levels += [(c, 0.0) for c in args.concurrency if c > 1]
    caught_up: list[str] = []
    for mode in ("json", "stream"):
        for conc, rate in levels:
            n = args.requests_c1 if conc == 1 else args.requests_paced if rate else args.requests
            for target in ("direct", "bare", "nexus") if stack.with_bare else ("direct", "nexus"):
                processes = stack.process_cpu()
                before = processes.sample() if target == "nexus" else None
                cell = run_cell(stack, mode, conc, target, n, args.warmup, seq, rate)
                seq += n + args.warmup
                if target == "nexus" and before is not None:
                    sent_through += cell.sent + args.warmup
                    rss_after.append((f"{mode} c={cell.level}", stack.rss_mb()[0]))
                    stored_so_far, waited = stack.wait_for_records(sent_through)
                    cell.nexus_cpu_settled_s = stack.nexus_cpu() - cell.nexus_cpu_start
                    spent = processes.delta(before, processes.sample())
                    per = 1000 / max(cell.sent + args.warmup, 1)
                    cell.process_ms = (spent[0] * per, spent[1] * per, spent[2] * per)
                    cell.drain_s = waited
                    caught_up.append(f"{mode} c={cell.level} {waited:.1f} s")
                    if stored_so_far < sent_through:
                        caught_up[-1] += f" ({sent_through - stored_so_far} missing)"
                cells.append(cell)
                print(
                    f"  {mode:<6} c={cell.level:<7} {target:<7} {len(cell.latencies)} ok in"
                    f" {cell.wall_s:.1f} s", file=sys.stderr, flush=True,
                )  # fmt: skip
    visibility: list[str] = []  # their report lines, printed after the tables
    failures: list[str] = []
    for spec in args.visibility:
        stack.wait_for_records(sent_through)  # no cell pays for the previous one's backlog
        line, failed, answered = visibility_cell(stack, spec, args.visibility_seconds, seq)
        visibility.append(line)
        failures += failed
        sent_through += answered
        seq += 10_000
    stored, waited = stack.wait_for_records(sent_through)
    # Work the recorder did after a cell ended is billed to no cell: count the whole run too.
    cpu_run = stack.nexus_cpu() - cpu_start
    rss, peak = stack.rss_mb()
    rec_rss, rec_peak = stack.recorder_rss_mb()
    print()
    failures = print_table(cells, stack) + print_processes(cells, stack) + failures
    for line in visibility:
        print(line)
    print("Nexus RSS after each cell: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss_after))
    print("recorder caught up after each cell in: " + ", ".join(caught_up))
    print(
        f"Nexus proxy process RSS now {rss:.0f} MB, peak (VmHWM) {peak:.0f} MB; recorder process"
        f" now {rec_rss:.0f} MB, peak {rec_peak:.0f} MB; both peaks {peak + rec_peak:.0f} MB;"
        f" fake {stack.fake_rss_mb():.0f} MB"
    )
    print(
        f"Nexus CPU (proxy + recorder) over the whole run, until caught up: {cpu_run:.1f} s,"
        f" {cpu_run / max(sent_through, 1) * 1000:.2f} ms per request sent through it"
    )
    print(f"records stored / requests sent through Nexus: {stored} / {sent_through}"
          f" (recorder caught up {waited:.1f} s after the last response)")  # fmt: skip
    files, size = stack.spool_backlog()
    print(f"spool on disk at the end: {files} segment files, {size / 1e6:.1f} MB")
    if peak + rec_peak >= RSS_LIMIT_MB:  # judged on both processes together
        failures.append(f"peak RSS {peak + rec_peak:.0f} MB >= {RSS_LIMIT_MB:.0f} MB")
    if stored != sent_through:
        failures.append(f"{sent_through - stored} requests not recorded")
    print()
    if failures:
        print("TARGETS MISSED:")
        for line in failures:
            print("  - " + line)
    else:
        print("all targets met")
    return 1 if failures else 0


def soak(args: argparse.Namespace, stack: Stack) -> int:
    """Steady mixed load through Nexus for N minutes; RSS every ``--sample-s`` seconds."""
    conc = max(args.concurrency)
    deadline = time.monotonic() + args.minutes * 60
    samples: list[tuple[float, float, int, int]] = []  # (elapsed s, RSS MB, sent, stored)
    state = {"sent": 0, "errors": 0}

    async def load() -> None:
        url = stack.proxy_url + "/v1/messages?beta=true"
        sessions = [Session(i, stream=(i % 2 == 1)) for i in range(conc)]
        connector = aiohttp.TCPConnector(limit=conc)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False
        ) as http:

            async def worker(session: Session) -> None:
                n = 0
                started = time.monotonic()
                while time.monotonic() < deadline:
                    if args.rate:  # open-loop pacing: worker i sends at (n * conc + i) / rate
                        due = started + (n * conc + session.index) / args.rate
                        await asyncio.sleep(max(0.0, due - time.monotonic()))
                    headers, body = session.request(n)
                    n += 1
                    try:
                        await one_request(http, url, headers, body, None)
                    except (TimeoutError, aiohttp.ClientError):
                        state["errors"] += 1
                    state["sent"] += 1

            async def sampler() -> None:
                start = time.monotonic()
                while time.monotonic() < deadline + 0.5:
                    sample = (time.monotonic() - start,
                              stack.rss_mb()[0] + stack.recorder_rss_mb()[0], state["sent"],
                              stack.records())  # fmt: skip
                    samples.append(sample)
                    print(f"  t={sample[0]:5.0f} s  RSS {sample[1]:6.1f} MB  sent {sample[2]}"
                          f"  stored {sample[3]}", file=sys.stderr, flush=True)  # fmt: skip
                    await asyncio.sleep(args.sample_s)

            await asyncio.gather(sampler(), *(worker(s) for s in sessions))

    _runner()(load())
    stored, waited = stack.wait_for_records(state["sent"])
    rss, peak = stack.rss_mb()
    rec_rss, rec_peak = stack.recorder_rss_mb()
    minutes = args.minutes
    print(f"soak: {minutes:g} min, c={conc} (half streaming), rate cap {args.rate or 'none'},"
          f" {state['sent']} requests,"
          f" {state['sent'] / (minutes * 60):.0f} req/s, {state['errors']} errors")  # fmt: skip
    print(f"{'t (s)':>7}{'RSS MB':>9}{'sent':>8}{'stored':>8}   (RSS: proxy + recorder)")
    for t, mb, sent, stored_then in samples:
        print(f"{t:>7.0f}{mb:>9.1f}{sent:>8}{stored_then:>8}")
    later = [s for s in samples if s[0] >= 30] or samples
    if len(later) >= 2:
        (t0, m0, n0, _), (t1, m1, n1, _) = later[0], later[-1]
        per_10k = (m1 - m0) / max(n1 - n0, 1) * 10_000
        print(f"RSS from t={t0:.0f} s to t={t1:.0f} s: {m0:.1f} → {m1:.1f} MB"
              f" ({per_10k:+.2f} MB per 10 000 requests); min {min(s[1] for s in later):.1f},"
              f" max {max(s[1] for s in later):.1f}")  # fmt: skip
    print(f"peak RSS (VmHWM): proxy {peak:.0f} MB, recorder {rec_peak:.0f} MB;"
          f" now {rss:.0f} + {rec_rss:.0f} MB")  # fmt: skip
    print(
        f"records stored / requests sent: {stored} / {state['sent']} (caught up in {waited:.1f} s)"
    )
    return 0 if stored == state["sent"] and peak + rec_peak < RSS_LIMIT_MB else 1


@contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
    extra_env = dict(item.split("=", 1) for item in args.env)
    with contextlib.ExitStack() as resources:
        db_url = resources.enter_context(fresh_postgres()) if args.db == "postgres" else ""
        stack = Stack(workdir, pin=args.pin, db_url=db_url, variant=args.variant,
                      extra_env=extra_env, with_bare=not args.no_bare and not args.minutes)  # fmt: skip
        if args.pin:
            os.sched_setaffinity(0, {1})  # the load generator shares CPU 1 with the fake
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
            if args.keep:
                print(f"kept {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell at c>1")
    parser.add_argument("--requests-c1", type=int, default=300, help="requests per cell at c=1")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--paced", type=float, nargs="*", default=[200.0],
        help="extra cells at the highest concurrency, paced to this many req/s in total",
    )  # fmt: skip
    parser.add_argument("--requests-paced", type=int, default=1500, help="requests per paced cell")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="taskset: Nexus on CPU 0, fake and load generator on CPU 1",
    )
    parser.add_argument(
        "--no-bare", action="store_true",
        help="skip the bare Quart + aiohttp pass-through (bare_passthrough.py) each cell also runs",
    )  # fmt: skip
    parser.add_argument("--minutes", type=float, default=0.0, help="soak for N minutes instead")
    parser.add_argument("--rate", type=float, default=0.0, help="soak: total req/s cap (0: none)")
    parser.add_argument("--sample-s", type=float, default=10.0, help="soak: RSS sampling period")
    parser.add_argument(
        "--variant",
        default="",
        help="run Nexus with patches from benchmarks/variants.py (comma list)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="extra environment variable for the Nexus process (e.g. MALLOC_ARENA_MAX=2)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, log)")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres"], default="sqlite",
        help="Nexus's store: a SQLite file, or a fresh database on the local Postgres (dropped after)",
    )  # fmt: skip
    parser.add_argument(
        "--visibility", nargs="*", default=[], metavar="RATE[:HOGS]",
        help="after the matrix, paced cells at RATE req/s (beside HOGS CPU-bound processes) timing "
        "each answer until its event on the API's live feed, e.g. 100 10:2",
    )  # fmt: skip
    parser.add_argument(
        "--visibility-seconds", type=float, default=12.0, help="length of each visibility cell"
    )
    args = parser.parse_args(argv)  # fmt: skip
    print("$ " + " ".join([Path(PYTHON).name, *sys.argv]))
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, pin {args.pin},"
          f" variant {args.variant or 'none (nexus as shipped)'}, nexus from {checkout()}"
          + (f", env {' '.join(args.env)}" if args.env else ""))  # fmt: skip
    with running_stack(args) as stack:
        sample = Session(0, stream=False)
        sizes = [len(sample.body(n)) for n in range(TURNS)]
        pid = stack.nexus.pid if stack.nexus else "?"
        mean = sum(sizes) // len(sizes) // 1024
        print(
            f"bodies {min(sizes) // 1024}-{max(sizes) // 1024} KB (mean {mean} KB, {TURNS}-turn"
            f" sessions); upstream {stack.upstream_url}; nexus {stack.proxy_url} (pid {pid})"
        )
        print()
        return soak(args, stack) if args.minutes else matrix(args, stack)


if __name__ == "__main__":
    sys.exit(main())
