"""The recorder alone: CPU per record, per stage, and records/s, on SQLite and Postgres.

    .venv/bin/python benchmarks/recorder_cost.py                          # both backends, 200 records
    .venv/bin/python benchmarks/recorder_cost.py --backend sqlite --records 400
    .venv/bin/python benchmarks/recorder_cost.py --mode process           # the real child process
    .venv/bin/python benchmarks/recorder_cost.py --profile /tmp/rec.txt   # + a pyinstrument profile

A spool is filled with ``--records`` exchanges of Claude Code-like ~217 KB bodies (benchmarks/
bodies.py: session-shaped, each turn resending the history plus a tool round) answered by a
streamed reply (the fake upstream's SSE encoder), then stored by the recorder's own pipeline: the
``Writer`` reading the spool back, deriving, cutting, compressing, inserting, indexing for search and
linking, as ``python -m nexus.recorder`` wires it.

``--mode pipeline`` (default) runs that pipeline in this process (on uvloop, as the child does;
``--trips`` counts its database calls by statement) and times each stage with
``time.process_time`` (CPU, not wall: the machine is shared, and CPU per record barely moves with
other load). Stage timers nest; each stage reports its own time without the stages inside it.
``--mode process`` starts ``python -m nexus.recorder`` on the filled spool and reads the child's CPU
from ``getrusage(RUSAGE_CHILDREN)`` (interpreter start-up included, ~0.2 s; use enough records).
On Postgres the server backends' CPU (utime + stime from /proc of the backends connected to the
benchmark's own database) is reported beside the recorder's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib
import inspect
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bodies import MODEL, Session  # noqa: E402
from benchmarks.processes import cpu_delta, database_cpu, fresh_postgres  # noqa: E402
from nexus.recorder.protocol import Priority, Progress, RecorderConfig, decode_report  # noqa: E402
from nexus.records import Exchange, new_id  # noqa: E402
from tests.fakes.upstream import Reply, ToolUse, encode_stream  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WORKERS = 4  # concurrent sessions, interleaved as a c=4 load would interleave them

# (stage, module, attribute path) timed in pipeline mode. Missing attributes are skipped, so the
# table can name both the code before and after a refactor.
STAGES: list[tuple[str, str, str]] = [
    ("spool read", "nexus.recorder.follow", "SpoolFollower.read"),
    ("derive", "nexus.recorder.writer", "derive"),
    ("derive", "nexus.recorder.writer", "derive_all"),
    ("sse", "nexus.recorder.derive", "assemble_sse"),
    ("parse", "nexus.recorder.derive", "_loads"),
    ("parse", "nexus.recorder.derive", "parse_request"),
    ("insert", "nexus.store.core", "CoreMixin.write_batch"),
    ("insert", "nexus.store.requests", "Requests.write_batch"),
    ("cut", "nexus.store.rows", "decompose"),
    ("hash", "nexus.store.content", "content_hash"),
    ("hash", "nexus.store.content", "node_id"),
    ("hash", "nexus.store.rows", "content_hash"),
    ("compress", "nexus.store.rows", "compress"),
    ("index", "nexus.store.events", "EventsCore._index_search_text"),
    ("index", "nexus.store.events", "EventsCore._write_extra"),
    ("index parse", "nexus.store.events", "search_text"),
    ("index", "nexus.store.search_index", "SearchIndex.write"),
    ("index parse", "nexus.store.search_index", "search_text"),
    ("link", "nexus.conversations.worker", "ConversationLinker.link_batch"),
    ("link prepare", "nexus.conversations.worker", "_prepare_all"),
    ("link prepare", "nexus.conversations.worker", "ConversationLinker._prepare_all"),
    ("cache ledger", "nexus.cache.ledger", "CacheLedger.after_linking"),
    ("cache print", "nexus.cache.ledger", "print_prompt"),
    ("cache outline", "nexus.cache.ledger", "outline_prompt"),
]


# -- traffic ----------------------------------------------------------------------------------


def exchanges(count: int) -> Iterator[Exchange]:
    """``count`` exchanges of ``WORKERS`` interleaved sessions, as the proxy would spool them."""
    sessions = [Session(i, stream=True) for i in range(WORKERS)]
    clock = 1_800_000_000_000
    for n in range(count):
        worker, turn = n % WORKERS, n // WORKERS
        headers, body = sessions[worker].request(turn)
        headers["x-api-key"] = "[redacted]"
        reply = Reply(
            text=f"Turn {turn}: reading the next file before the edit. " * 4,
            tool_uses=(ToolUse("Read", {"file_path": f"/work/src/m{turn}.py"}, f"toolu_{n:08d}"),),
        )
        sse = b"".join(encode_stream(reply, MODEL, len(body) // 4))
        clock += 37
        yield Exchange(
            id=new_id(clock),
            started_at_ms=clock,
            ended_at_ms=clock + 900,
            first_byte_at_ms=clock + 300,
            method="POST",
            path="/v1/messages",
            query="beta=true",
            host="127.0.0.1:3000",
            request_headers=tuple(headers.items()),
            request_body=body,
            status=200,
            response_headers=(
                ("content-type", "text/event-stream; charset=utf-8"),
                ("request-id", f"req_{n:024d}"),
                ("anthropic-ratelimit-unified-status", "allowed"),
                ("anthropic-ratelimit-unified-5h-utilization", "0.12"),
            ),
            response_body=sse,
        )


def fill_spool(folder: Path, count: int) -> tuple[int, int]:
    """Write ``count`` exchanges to a spool folder; returns (request bytes, response bytes)."""
    from nexus.recorder.spool import Spool

    spool = Spool(folder)
    sizes = [0, 0]
    for ex in exchanges(count):
        spool.append(ex)
        sizes[0] += len(ex.request_body)
        sizes[1] += len(ex.response_body)
    spool.close()
    return sizes[0], sizes[1]


# -- stores -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """A fresh database URL (a new SQLite file, or a new Postgres database dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    fresh = fresh_postgres("bench_rec")  # blocking (its own event loop): in a thread
    url = await asyncio.to_thread(fresh.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(fresh.__exit__, None, None, None)


async def pg_backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds (utime + stime) of every server backend connected to ``url``'s database."""
    return await asyncio.to_thread(database_cpu, url)


# -- stage timers -----------------------------------------------------------------------------


class Stages:
    """Nested CPU timers patched around named functions; each stage's own time, children excluded.
    The pipeline is sequential (the writer awaits each step), so one stack serves every thread."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[float]] = []  # [start, time spent in children]
        self._undo: list[Callable[[], None]] = []

    def _enter(self) -> None:
        self._stack.append([time.process_time(), 0.0])

    def _exit(self, stage: str) -> None:
        start, children = self._stack.pop()
        spent = time.process_time() - start
        self.own[stage] += spent - children
        self.calls[stage] += 1
        if self._stack:
            self._stack[-1][1] += spent

    def patch(self, table: list[tuple[str, str, str]]) -> list[str]:
        patched = []
        for stage, module_name, path in table:
            try:
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *parents, name = path.split(".")
            try:
                for part in parents:
                    owner = getattr(owner, part)
                original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            except (AttributeError, KeyError):
                continue
            self._wrap(owner, name, original, stage)
            patched.append(f"{module_name}.{path}")
        return patched

    def _wrap(self, owner: Any, name: str, original: Any, stage: str) -> None:
        enter, leave = self._enter, self._exit
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                enter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    leave(stage)

        else:

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                enter()
                try:
                    return original(*args, **kwargs)
                finally:
                    leave(stage)

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def unpatch(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


class Trips:
    """Counts what the recorder asks the database, by statement: on Postgres each asyncpg call
    (``execute``, ``fetch``, ``fetchrow``, ``executemany``: one round trip each, ``executemany``
    pipelined; BEGIN, COMMIT and the pool's reset on release are ``execute`` calls too); on SQLite
    each statement the connector's transaction or reader runs (no network, but each is a call into
    the driver)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self._undo: list[Callable[[], None]] = []

    def patch(self, backend: str) -> None:
        if backend == "postgres":
            import asyncpg.connection

            owner: Any = asyncpg.connection.Connection
            names = ("execute", "executemany", "fetch", "fetchrow", "fetchval")
            self._wrap_all(owner, names)
            return
        from nexus.store.sqlite import connector as sqlite_connector

        for owner in (sqlite_connector.Tx, sqlite_connector.InlineTx):
            self._wrap_all(owner, ("execute", "executemany", "fetchall", "fetchone"))
        self._wrap_all(sqlite_connector.SqliteConnector, ("fetchall", "fetchone"))

    def _wrap_all(self, owner: Any, names: tuple[str, ...]) -> None:
        count = self.count
        for name in names:
            original = owner.__dict__[name]

            def wrapper(
                *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
            ) -> Any:
                sql = args[1] if len(args) > 1 and isinstance(args[1], str) else "?"
                first = " ".join(sql.split())[:70]
                count[f"{_name}: {first}"] += 1
                return _original(*args, **kwargs)

            setattr(owner, name, functools.wraps(original)(wrapper))
            self._undo.append(lambda owner=owner, name=name, original=original: setattr(
                owner, name, original
            ))  # fmt: skip

    def unpatch(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def report(self, records: int) -> None:
        total = sum(self.count.values())
        print(f"  database calls: {total / records:.2f} per record ({total} in all)")
        for what, n in sorted(self.count.items(), key=lambda kv: -kv[1])[:25]:
            print(f"    {n / records:6.2f}  {what}")


# -- runs -------------------------------------------------------------------------------------


WITH_CACHE_LEDGER = os.environ.get("NEXUS_BENCH_CACHE_LEDGER", "1") != "0"


def _cache_ledger(store: Any) -> Any:
    """The cache ledger as the recorder runs it (``NEXUS_BENCH_CACHE_LEDGER=0``: without it, to
    measure what it costs; also absent in a Nexus that has none)."""
    try:
        from nexus.cache.ledger import CacheLedger
    except ImportError:
        return None
    return CacheLedger(store) if WITH_CACHE_LEDGER else None


def _tune_collector() -> None:
    """The garbage collector as the recorder child sets it (a Nexus without the setting: a
    collection, then the defaults)."""
    try:
        from nexus.recorder.collector import tune_collector
    except ImportError:
        gc.collect()
    else:
        tune_collector()


async def run_pipeline(
    url: str,
    spool: Path,
    count: int,
    stages: Stages | None,
    profile: str | None,
    batch: int,
    trips: Trips | None = None,
) -> dict[str, Any]:
    from nexus.conversations.worker import ConversationLinker
    from nexus.recorder.follow import SpoolFollower
    from nexus.recorder.writer import Writer
    from nexus.store import build_store
    from nexus.usage.cost import make_cost_function

    store: Any = build_store(url, inline=True)  # as the recorder child opens it
    await store.open()
    try:
        linker = ConversationLinker(store, in_thread=False)
        ledger = _cache_ledger(store)

        async def link(records: Any) -> None:
            links = await linker.link_batch(records)
            if ledger is not None:  # as the recorder does: the cache ledger after linking
                await ledger.after_linking(records, links, linker.known.generation)

        writer = Writer(
            store,
            SpoolFollower(spool),
            cost=make_cost_function(None),
            on_written=link,
            batch_items=batch,
        )
        stop = asyncio.Event()
        stop.set()  # store everything there is, then return
        _tune_collector()
        pg0 = await pg_backend_cpu(url)
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled", interval=0.0005)
            profiler.start()
        if stages:
            stages._stack.clear()
        if trips:
            trips.count.clear()  # what opening the store asked is not the records' cost
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await writer.run(stop)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        counted = dict(trips.count) if trips else {}
        if profiler:
            profiler.stop()
            Path(profile or "").write_text(profiler.output_text(unicode=True, show_all=False))
        pg = cpu_delta(pg0, await pg_backend_cpu(url))
        if trips:  # not the checks below
            trips.count.clear()
            trips.count.update(counted)
        assert writer.stats.written == count, (writer.stats.written, count)
        stored = (await store.stats()).requests
        assert stored == count, (stored, count)
        size = (await store.stats()).database_bytes
    finally:
        await store.close()
    return {"cpu": cpu, "wall": wall, "pg": pg, "db_bytes": size}


async def start_recorder(config: RecorderConfig) -> asyncio.subprocess.Process:
    """The real recorder child (``python -m nexus.recorder``), its config written to its stdin."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nexus.recorder",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1024 * 1024,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(config.encode())
    return proc


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_process(url: str, spool: Path, count: int) -> dict[str, Any]:
    """The real recorder child on the filled spool (its folder is the proxy's own folder here)."""
    config = RecorderConfig(spool=spool, database_url=url, log_level="WARNING")
    cpu0 = children_cpu()
    pg0 = await pg_backend_cpu(url)
    wall0 = time.perf_counter()
    proc = await start_recorder(config)
    assert proc.stdin is not None and proc.stdout is not None
    pg_during: dict[int, float] = {}
    written = 0
    while line := await proc.stdout.readline():
        report = decode_report(line)
        if not isinstance(report, Progress):
            continue
        written = report.written
        if written >= count and report.idle:
            pg_during = await pg_backend_cpu(url)  # before the pool closes its connections
            proc.stdin.close()
    await proc.wait()
    wall = time.perf_counter() - wall0
    cpu = children_cpu() - cpu0
    assert written == count, (written, count)
    return {"cpu": cpu, "wall": wall, "pg": cpu_delta(pg0, pg_during), "db_bytes": 0}


async def run_paced(
    url: str, folder: Path, count: int, rate: float, priority: Priority
) -> dict[str, Any]:
    """The real recorder child following a spool this process appends to at ``rate`` exchanges/s,
    poking it after each append as the proxy does; also the time from each append until the
    recorder reported it stored (what the API's live feed waits for)."""
    from nexus.recorder.spool import Position, Spool

    traffic = list(exchanges(count))
    spool = Spool(folder)
    config = RecorderConfig(spool=folder, database_url=url, log_level="WARNING", priority=priority)
    cpu0 = children_cpu()
    pg0 = await pg_backend_cpu(url)
    proc = await start_recorder(config)
    assert proc.stdin is not None and proc.stdout is not None
    appended: list[tuple[Position, float]] = []
    latencies: list[float] = []
    state = {"written": 0, "batches": 0}
    done = asyncio.Event()
    pg_during: dict[int, float] = {}

    async def read_reports() -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            report = decode_report(line)
            if isinstance(report, Progress):
                state["written"] = report.written
                at, now = report.at, time.perf_counter()
                while len(latencies) < len(appended) and appended[len(latencies)][0] <= at:
                    latencies.append(now - appended[len(latencies)][1])
            if state["written"] >= count and not done.is_set():
                pg_during.update(await pg_backend_cpu(url))
                done.set()

    reader = asyncio.ensure_future(read_reports())
    await asyncio.sleep(0.5)  # the child's start-up
    wall0 = time.perf_counter()
    for n, exchange in enumerate(traffic):
        await asyncio.sleep(max(0.0, wall0 + n / rate - time.perf_counter()))
        appended.append((spool.append(exchange), time.perf_counter()))
        proc.stdin.write(b"\n")
    await asyncio.wait_for(done.wait(), 120)
    wall = time.perf_counter() - wall0
    proc.stdin.close()
    await proc.wait()
    await reader
    spool.close()
    cpu = children_cpu() - cpu0
    latencies.sort()
    return {
        "cpu": cpu, "wall": wall, "pg": cpu_delta(pg0, pg_during), "db_bytes": 0,
        "p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)],
    }  # fmt: skip


def report(backend: str, mode: str, count: int, r: dict[str, Any], stages: Stages | None) -> None:
    ms = 1000.0 / count
    print(f"\n{backend} ({mode}, {count} records): recorder CPU {r['cpu'] * ms:.2f} ms/record, "
          f"wall {r['wall'] * ms:.2f} ms/record; {count / r['cpu']:.0f} records/s per core of "
          f"recorder CPU, {count / r['wall']:.0f} records/s wall")  # fmt: skip
    if backend == "postgres":
        print(f"  Postgres backends: {r['pg'] * ms:.2f} ms/record "
              f"(recorder + server {(r['cpu'] + r['pg']) * ms:.2f} ms/record)")  # fmt: skip
    if "p99" in r:
        print(f"  append -> reported stored: p50 {r['p50'] * 1000:.0f} ms, "
              f"p99 {r['p99'] * 1000:.0f} ms")  # fmt: skip
    if r["db_bytes"]:
        print(f"  database size after: {r['db_bytes'] / 1e6:.1f} MB")
    if stages is None:
        return
    total = r["cpu"]
    timed = sum(stages.own.values())
    print(f"  {'stage':<12}{'ms/record':>10}{'share':>8}{'calls':>8}")
    for stage, spent in sorted(stages.own.items(), key=lambda kv: -kv[1]):
        share = spent / total * 100
        print(f"  {stage:<12}{spent * ms:>10.2f}{share:>7.0f}%{stages.calls[stage]:>8}")
    print(f"  {'(rest)':<12}{(total - timed) * ms:>10.2f}{(total - timed) / total * 100:>7.0f}%")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--mode", choices=["pipeline", "process"], default="pipeline")
    parser.add_argument(
        "--rate",
        type=float,
        help="process mode: append at this many exchanges/s while the recorder follows "
        "(CPU per record of a recorder keeping up with live traffic, and visibility latency)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="records per write batch (pipeline): 1 is a recorder keeping up with live traffic, "
        "64 (the writer's maximum) one draining a backlog",
    )
    parser.add_argument(
        "--priority",
        choices=["idle", "batch", "nice", "normal", "nice:5", "nice:10", "nice:15"],
        default="batch",
        help="--rate: the recorder's scheduling policy (nexus/recorder/priority.py)",
    )
    parser.add_argument(
        "--hogs", type=int, default=0, help="CPU-bound processes at normal priority beside it"
    )
    parser.add_argument("--no-stages", action="store_true", help="no stage timers (pipeline)")
    parser.add_argument("--profile", help="write a pyinstrument text profile here (pipeline)")
    parser.add_argument(
        "--trips", action="store_true", help="count database calls per record, by statement"
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        spool = tmp / "spool"
        req_bytes, resp_bytes = fill_spool(spool, args.records)
        print(f"spool: {args.records} exchanges, request bodies {req_bytes / args.records / 1024:.0f}"
              f" KB and responses {resp_bytes / args.records / 1024:.1f} KB on average "
              f"(filled in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        hogs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)
        ]
        try:
            for backend in backends:
                await one_backend(args, backend, tmp, spool)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()


async def one_backend(args: argparse.Namespace, backend: str, tmp: Path, spool: Path) -> None:
    # Each run consumes (deletes) its spool; a folder of its own, since the recorder adopts
    # any unlocked sibling folder as an orphan.
    copy = tmp / backend / "spool"
    shutil.copytree(spool, copy)
    async with database(backend, tmp) as url:
        stages = None
        trips = Trips() if args.trips and args.mode == "pipeline" else None
        if args.mode == "pipeline":
            if not args.no_stages:
                stages = Stages()
                stages.patch(STAGES)
            if trips:
                trips.patch(backend)
            try:
                result = await run_pipeline(
                    url, copy, args.records, stages, args.profile, args.batch, trips
                )
            finally:
                if stages:
                    stages.unpatch()
                if trips:
                    trips.unpatch()
        elif args.rate:
            result = await run_paced(
                url, tmp / backend / "paced", args.records, args.rate, args.priority
            )
        else:
            result = await run_process(url, copy, args.records)
        mode = f"{args.mode}, batch {args.batch}" if args.mode == "pipeline" else args.mode
        mode += f", {args.rate:g}/s, {args.priority}, {args.hogs} hogs" if args.rate else ""
        report(backend, mode, args.records, result, stages)
        if trips:
            trips.report(args.records)


if __name__ == "__main__":
    try:  # the recorder child runs on uvloop: its socket writes to Postgres cost less than asyncio's
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
