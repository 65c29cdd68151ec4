"""Composition root of the recorder process that ``nexus serve`` starts beside itself.

The proxy process only appends exchanges to its spool folder; this process reads them back, derives
and stores the records, links conversations, and tells the proxy process how far it got. Running
here, that CPU work never takes the GIL from the proxy's event loop, and it runs under SCHED_BATCH:
its wake-ups do not preempt the proxy, and under a burst the records follow a little later.

Protocol (``nexus.recorder.process`` is the other end):
- stdin: one JSON line of configuration, then a byte whenever the proxy appended something. End of
  file means the proxy stopped (or died): store what is in the spool, then exit.
- stdout: one JSON line per report: how far the proxy's folder is stored, and whether events were
  committed (the API's live feed wakes on each line).
SIGINT is ignored (a Ctrl-C in the terminal reaches the whole process group; the proxy process
decides); SIGTERM means stop after storing what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from nexus.aio import TaskSet
from nexus.errors import StoreUnavailable
from nexus.records import RequestRecord

log = logging.getLogger("nexus.recording")
NICENESS = 19  # the "nice" and "idle" policies where SCHED_IDLE is not available
PRIORITY = "batch"  # see _set_priority
EXIT_STORE_DOWN = 3
SPILL_FOLDER = "dead-letters"  # in the data folder: frames even the dead-letter table refused


class _LiveLinking:
    """Links records right after the writer stored them (still in memory: no body is read back;
    the linker writes its links and their events itself). A periodic catch-up links whatever a
    crash, an outage or a failed batch left unlinked."""

    CATCH_UP_EVERY_S = 30.0

    def __init__(self, store: Any) -> None:
        from nexus.conversations.worker import ConversationLinker

        self.linker = ConversationLinker(store)

    async def __call__(self, records: Sequence[RequestRecord]) -> None:
        await self.linker.link_batch(records)

    async def catch_up_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                while await self.linker.catch_up():
                    pass
            except StoreUnavailable as exc:
                log.warning("linking catch-up postponed: %s", exc)
            except Exception:  # the records are stored; a linker bug must not end linking for good
                log.exception("linking catch-up failed; trying again in %.0f s",
                              self.CATCH_UP_EVERY_S)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.CATCH_UP_EVERY_S)


class _Reports:
    """Writes report lines to the proxy process; a closed pipe means it is gone, which is fine."""

    def __init__(self) -> None:
        self.fd = sys.stdout.fileno()

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            data = orjson.dumps(message) + b"\n"
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]


async def record(config: dict[str, Any], stop: asyncio.Event, wakeup: asyncio.Event) -> int:
    from nexus.recorder.follow import SpoolFollower
    from nexus.recorder.spool import lock
    from nexus.recorder.writer import Writer, WriterStats, adopt_orphans
    from nexus.usage.cost import make_cost_function

    own = Path(config["spool"])
    price_book = config.get("price_book_path")
    retry_s = float(config.get("retry_s", 1.0))
    reports = _Reports()
    store = await _open_store(config["database_url"], stop, reports, retry_s)
    if store is None:
        return EXIT_STORE_DOWN
    store.on_commit = lambda: reports.send({"events": True})
    # Another recorder may still be storing this folder (its proxy was just restarted): wait.
    recorder_lock = await asyncio.to_thread(lock, own / ".recorder.lock", wait=True)
    tasks = TaskSet()
    try:
        linking = _LiveLinking(store)

        def progress(stats: WriterStats) -> None:
            reports.send({
                "at": list(stats.position), "idle": stats.idle, "adopted": stats.adopted,
                "written": stats.written, "healthy": stats.healthy, "failures": stats.failures,
            })  # fmt: skip

        writer = Writer(
            store,
            SpoolFollower(own),
            cost=make_cost_function(Path(price_book) if price_book else None),
            on_written=linking,
            on_progress=progress,
            adopted=adopt_orphans(own.parent, own, await store.database_id()),
            retry_s=retry_s,
            wakeup=wakeup,
            spill_dir=own.parent.parent / SPILL_FOLDER,
        )
        tasks.spawn(linking.catch_up_forever(stop), name="link-catch-up")
        try:
            await writer.run(stop)
        finally:
            stop.set()
        await tasks.wait(timeout=5.0)
    finally:
        await tasks.close()
        os.close(recorder_lock)
        await store.close()
    return 0


async def _open_store(url: str, stop: asyncio.Event, reports: _Reports, retry_s: float) -> Any:
    """The store, once it answers (retrying with backoff); None if told to stop before that."""
    from nexus.store import build_store

    failures, delay = 0, retry_s
    while True:
        store = build_store(url)
        try:
            await store.open()
            return store
        except StoreUnavailable as exc:
            failures += 1
            if failures == 1:
                log.error(
                    "the recorder cannot reach the store (%s); records wait in the spool", exc
                )
            reports.send({"healthy": False, "failures": failures})
            with contextlib.suppress(Exception):
                await store.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return None
        delay = min(delay * 2, 15.0)


async def _main() -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    wakeup = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = orjson.loads(await reader.readline())
    from nexus.cli.output import setup_logging

    setup_logging(config.get("log_level", "INFO"))  # the same level as ``nexus serve``
    _set_priority(config.get("priority", PRIORITY))  # before any thread starts: they inherit it
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def listen() -> None:
        while await reader.read(4096):
            wakeup.set()
        stop.set()  # the proxy process closed the pipe: it stopped, or died

    listener = loop.create_task(listen())
    try:
        return await record(config, stop, wakeup)
    finally:
        listener.cancel()


def _set_priority(policy: str) -> None:
    """How the recorder competes for CPU (docs/recorder.md has the measurements).

    ``batch`` (the default): SCHED_BATCH at nice 0. It gets its fair share of the CPU, so beside two
    busy processes at normal priority (a build) records still appear within seconds (10 req/s,
    2 hogs: p99 1.7 s), yet its wake-ups never preempt the proxy. ``idle``: SCHED_IDLE, CPU time
    nobody else wants; a waking proxy preempts it at once, but beside a build it starves (same
    run: p99 6.7 s, 28 s on a busier machine). ``nice`` (19) starves the same way; ``nice:N`` and
    ``normal`` are there to measure with (benchmarks/recorder_cost.py --priority). Unprivileged,
    a process can lower its priority but never raise it again, so the choice is made once here.
    """
    if policy == "normal":
        return
    if policy == "batch":
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        return
    if policy.startswith("nice:"):
        with contextlib.suppress(OSError, ValueError):
            os.nice(int(policy.removeprefix("nice:")))
        return
    if policy == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError):  # not Linux
            pass
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        sys.exit(asyncio.run(_main()))
    sys.exit(uvloop.run(_main()))


if __name__ == "__main__":
    main()
