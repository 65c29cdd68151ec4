"""Time the TUI on a big store: launch → filled live table, filter key → results, opening a
500-request conversation → drawn tree. Target: < 300 ms each (DESIGN.md §6). And the cold start as
a person sees it: ``nexus tui`` exec'd in a pseudo-terminal until the first frame showing rows (or,
on an empty store, the hint) has been written to the terminal. Target: < 1 s.

    .venv/bin/python benchmarks/tui.py                         # 100 000 requests, SQLite
    .venv/bin/python benchmarks/tui.py --db /tmp/tui-bench.db --keep   # seed once, reuse
    .venv/bin/python benchmarks/tui.py --db /tmp/tui-bench.db --cold-only   # only the cold start

The store is seeded like ``benchmarks/api.py`` (Claude Code-like sessions, linked by the real
linker) plus one conversation of 500 main-agent turns. The read API runs in Hypercorn on loopback;
the TUI is the real ``NexusApp`` with the real ``NexusClient``, headless (Textual's test driver)
at 120×40. Each figure is wall time until the widget has drawn the data, over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
# api puts the measured tree's nexus first on the path (benchmarks/checkout.py)
from api import all_records, conversation, open_bench_store, seed  # noqa: E402
from checkout import checkout, nexus_python  # noqa: E402

SIZE = (120, 40)
FILTERS = ("model:opus", "status:5xx", "class:title", "account:team-b status:429", "q:zq0042")
LONG_TURNS = 500


async def until(pilot: Any, ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Yield to the app until ``ready()`` holds."""
    deadline = time.perf_counter() + timeout_s
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the TUI did not get there: {ready.__code__.co_firstlineno}")
        await asyncio.sleep(0.001)


def stats(samples: list[tuple[float, float]]) -> str:
    wall = sorted(w * 1000 for w, _ in samples)
    cpu = sorted(c * 1000 for _, c in samples)
    return (
        f"median {statistics.median(wall):6.1f} ms ({statistics.median(cpu):5.1f})   "
        f"worst {wall[-1]:6.1f} ms ({cpu[-1]:5.1f})   n={len(wall)}"
    )


class Clock:
    """Wall and CPU time of this process since ``start``."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


Results = dict[str, list[tuple[float, float]]]


async def run(url: str, long_id: str, runs: int) -> Results:
    results: Results = {
        "launch → filled live table": [],
        "  of which mount → filled": [],
        "filter key → results": [],
        "scroll a page past the loaded rows": [],
        "open 500-request conversation → tree": [],
        "  again (screen kept)": [],
        "API alone: first page + count": [],
        "API alone: one filtered page + count": [],
        "API alone: the 500-request tree": [],
    }
    held = 0
    for _ in range(runs):
        held = max(held, await one_run(url, long_id, results))
        await api_only(url, long_id, results)
    print(f"  rows held by the live table after scrolling 5 pages: {held:,}")
    return results


async def api_only(url: str, long_id: str, results: Results) -> None:
    """The same calls without the TUI: what of each figure is the server's."""
    from nexus.client import NexusClient
    from nexus.tui.query import parse_query

    async with NexusClient(url) as client:
        t0 = Clock()
        await asyncio.gather(client.list_requests(limit=100), client.count_requests())
        results["API alone: first page + count"].append(t0.lap())
        for text in FILTERS:
            flt = parse_query(text).filter
            t0 = Clock()
            await asyncio.gather(client.list_requests(flt, limit=100), client.count_requests(flt))
            results["API alone: one filtered page + count"].append(t0.lap())
        t0 = Clock()
        await client.get_conversation(long_id)
        results["API alone: the 500-request tree"].append(t0.lap())


async def one_run(url: str, long_id: str, results: Results) -> int:
    from textual.widgets import Input

    from nexus.client import NexusClient
    from nexus.settings import Settings
    from nexus.tui.app import make_app
    from nexus.tui.screens.conversation import ConversationScreen
    from nexus.tui.widgets.conversation_tree import ConversationTreeView
    from nexus.tui.widgets.filter_bar import FilterBar
    from nexus.tui.widgets.request_table import RequestTable

    async with NexusClient(url) as client:
        started = Clock()
        app = make_app(Settings(), client)
        async with app.run_test(size=SIZE) as pilot:
            mounted = Clock()
            table = app.screen.query_one(RequestTable)
            rows = table.rows
            # "Drawn": the widget has painted the version of its data that holds the rows.
            await until(
                pilot, lambda: rows.loaded_rows > 0 and table.painted_version == table.version
            )
            results["launch → filled live table"].append(started.lap())
            results["  of which mount → filled"].append(mounted.lap())

            field = app.screen.query_one(FilterBar).query_one(Input)
            for text in FILTERS:
                await pilot.press("slash", *text)
                generation = rows.generation
                t0 = Clock()
                await field.action_submit()  # what enter does, without the test driver's own waits
                await until(
                    pilot,
                    lambda g=generation: (
                        rows.generation > g
                        and rows.is_loaded
                        # no rows: the table is hidden and the empty-state text shown instead
                        and (table.painted_version == table.version or len(rows) == 0)
                    ),
                )
                results["filter key → results"].append(t0.lap())
            await pilot.press("escape")  # clear the filter
            await until(pilot, lambda: rows.is_loaded and rows.loaded_rows > 0)

            for _page in range(5):  # scroll: the next page loads as the cursor nears it
                loaded = rows.loaded_rows
                await pilot.pause()
                t0 = Clock()
                table.action_last()
                await until(
                    pilot,
                    lambda n=loaded: (
                        rows.loaded_rows > n and table.painted_version == table.version
                    ),
                )
                results["scroll a page past the loaded rows"].append(t0.lap())
            held = rows.loaded_rows

            for name in ("open 500-request conversation → tree", "  again (screen kept)"):
                t0 = Clock()
                app.open_conversation(long_id)
                await until(
                    pilot,
                    lambda: (
                        isinstance(app.screen, ConversationScreen)
                        and bool(app.screen.query(ConversationTreeView))
                    ),
                )
                screen = app.screen
                assert isinstance(screen, ConversationScreen)
                view = screen.query_one(ConversationTreeView)
                await until(
                    pilot,
                    lambda s=screen, v=view: (
                        s.drawn
                        and len(v.nodes_by_id) >= LONG_TURNS
                        and v.painted_version == v.version
                    ),
                )
                results[name].append(t0.lap())
                await pilot.press("escape")
                await pilot.pause()
    return held


async def prepare(args: argparse.Namespace) -> str:
    """Seed the store if it is empty and make sure it holds a 500-request conversation; returns
    that conversation's id."""
    args.backend = "sqlite"
    args.keep = True  # the served process reads it next; --fresh removes it at the end
    store, _ = await open_bench_store("sqlite", args)
    try:
        count = (await store._fetchone("SELECT count(*) FROM requests"))[0]
        if count == 0:
            records = all_records(args.requests - LONG_TURNS, args.conversations)
            print(f"seeding {len(records):,} requests…", file=sys.stderr)
            print(f"seeded in {await seed(store, records):.0f} s", file=sys.stderr)
        row = await store._fetchone(
            "SELECT conversation_id, count(*) FROM links WHERE conversation_id IS NOT NULL "
            "GROUP BY conversation_id ORDER BY count(*) DESC LIMIT 1"
        )
        if row is None or row[1] < LONG_TURNS:
            newest = (await store._fetchone("SELECT max(started_at_ms) FROM requests"))[0] or 0
            records = conversation(random.Random(3), 99_999, LONG_TURNS, newest + 60_000)
            print(f"seeding a {LONG_TURNS}-request conversation…", file=sys.stderr)
            await seed(store, records)
            row = await store._fetchone(
                "SELECT conversation_id FROM links WHERE request_id = ?", (records[0].id,)
            )
        return str(row[0])
    finally:
        await store.close()


def serve(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The real ``nexus serve`` on the seeded file, in its own process (as a person runs it)."""
    api_port, proxy_port = _free_port(), _free_port()
    env = dict(os.environ, NEXUS_DATA_DIR=str(db.parent / "tui-bench-data"))
    process = subprocess.Popen(
        [
            nexus_python(),
            "-m",
            "nexus",
            "serve",
            "--db",
            f"sqlite:///{db}",
            "--api-port",
            str(api_port),
            "--proxy-port",
            str(proxy_port),
            "--upstream",
            "http://127.0.0.1:9",
        ],
        env=env,
        cwd=checkout(),  # `-m nexus` imports from the working folder first
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{api_port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nexus serve did not start")


def cold_start(
    url: str, marker: bytes, runs: int, size: tuple[int, int]
) -> list[tuple[float, float]]:
    """Seconds from exec of ``nexus tui --server url`` (in a pseudo-terminal of ``size``) until
    ``marker`` (text of the newest row, or the empty-store hint) has been written to it, and the
    CPU seconds the TUI process had used by then (read from /proc: the figure the neighbours'
    load does not inflate; elsewhere, until it was stopped right after)."""
    import fcntl
    import pty
    import resource
    import struct
    import termios

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    times = []
    for _ in range(runs):
        leader, follower = pty.openpty()
        columns, rows = size
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
        cpu_before = children_cpu()
        started = time.perf_counter()
        process = subprocess.Popen(
            [nexus_python(), "-m", "nexus", "tui", "--server", url, "--utc"],
            cwd=checkout(),
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            start_new_session=True,
        )
        os.close(follower)
        seen = b""
        try:
            while marker not in seen:
                if time.perf_counter() - started > 30:
                    raise TimeoutError(f"{marker!r} never painted")
                try:
                    seen = seen[-4096:] + os.read(leader, 65536)
                except OSError:  # the terminal closed: the TUI died
                    raise RuntimeError(seen[-2000:].decode(errors="replace")) from None
            wall = time.perf_counter() - started
            cpu = _process_cpu(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            os.close(leader)
        times.append((wall, children_cpu() - cpu_before if cpu is None else cpu))
    return times


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cold_start_report(url: str, empty_url: str, runs: int) -> None:
    page = httpx.get(f"{url}/api/requests", params={"limit": 20}, timeout=60).json()["items"]
    # A preview of one of the newest rows (all of them are on the first frame): a word or two of
    # plain text, drawn in one style.
    previews = [" ".join((r.get("user_preview") or "").split()) for r in page]
    preview = next(p for p in previews if len(p) >= 12)[:12].encode()
    for label, target, marker in (
        ("cold start, empty store → hint painted", empty_url, b"No requests recorded yet"),
        ("cold start, big store → rows painted", url, preview),
    ):
        for size in ((120, 40), (80, 24)):
            samples = cold_start(target, marker, runs, size)
            worst = max(w for w, _ in samples)
            print(f"  {label} {size[0]}×{size[1]}: {stats(samples)}", "  ← over 1 s" * (worst >= 1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="SQLite file to (re)use; default: a temporary file")
    parser.add_argument(
        "--cold-only", action="store_true", help="only the cold start (exec → first frame)"
    )
    parser.add_argument(
        "--seed-only", action="store_true",
        help="seed (or open and migrate) the --db store, then stop: no timing",
    )  # fmt: skip
    args = parser.parse_args()
    temporary = args.db is None
    db = Path(args.db or tempfile.mkdtemp()) / "tui-bench.db" if temporary else Path(args.db)
    args.db = str(db)
    long_id = asyncio.run(prepare(args))
    if args.seed_only:
        print(f"store ready: {db} (500-request conversation {long_id})")
        return
    process, url = serve(db)
    try:
        count = httpx.get(f"{url}/api/requests/count", timeout=60).json()["count"]
        print(
            f"\nTUI on {count:,} requests (SQLite, nexus serve in its own process), "
            f"{SIZE[0]}×{SIZE[1]}, {args.runs} runs; wall time (CPU time of the TUI process)"
        )
        empty_process, empty_url = serve(Path(tempfile.mkdtemp()) / "empty.db")
        try:
            cold_start_report(url, empty_url, args.runs)
        finally:
            empty_process.terminate()
            empty_process.wait(10)
        results = {} if args.cold_only else asyncio.run(run(url, long_id, args.runs))
    finally:
        process.terminate()
        process.wait(10)
        if temporary:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
    for name, samples in results.items():
        walls = [w for w, _ in samples]
        quiet = name.startswith((" ", "API"))
        flag = "" if quiet or max(walls) < 0.3 else "  ← over 300 ms"
        print(f"  {name:40} {stats(samples)}{flag}")


if __name__ == "__main__":
    main()
