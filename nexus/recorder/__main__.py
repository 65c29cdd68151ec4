"""The recorder child's composition root: ``python -m nexus.recorder``, started by ``nexus serve``.

The proxy process only appends exchanges to its spool folder; this process reads them back, derives
and stores the records, links conversations, and tells the proxy process how far it got. Running
here, that CPU work never takes the GIL from the proxy's event loop, and it runs under SCHED_BATCH
(``priority.py``): its wake-ups do not preempt the proxy, and under a burst the records follow a
little later. The pipe's messages are ``protocol.py``'s; the other end is ``supervisor.py``.

SIGINT is ignored (a Ctrl-C in the terminal reaches the whole process group; the proxy process
decides); SIGTERM, or the end of stdin, means stop after storing what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nexus.aio import TaskSet
from nexus.errors import StoreUnavailable
from nexus.recorder.counting import Counting
from nexus.recorder.protocol import (
    Committed,
    Progress,
    RecorderConfig,
    Report,
    StoreDown,
    encode_report,
)
from nexus.records import RequestRecord
from nexus.store.base import Store

if TYPE_CHECKING:
    from nexus.usage.prices import PriceBook

log = logging.getLogger("nexus.recorder")
EXIT_STORE_DOWN = 3


class _LiveLinking:
    """Links records right after the writer stored them (still in memory: no body is read back;
    the linker writes its links and their events itself). A periodic catch-up links whatever a
    crash, an outage or a failed batch left unlinked."""

    CATCH_UP_EVERY_S = 30.0

    def __init__(
        self, store: Store, watch: Any = None, price_book: PriceBook | None = None
    ) -> None:
        from nexus.cache.ledger import CacheLedger
        from nexus.conversations.worker import ConversationLinker

        # On this process's loop nobody waits: fingerprints are computed on it, not in a thread.
        self.linker = ConversationLinker(store, in_thread=False)  # type: ignore[arg-type]
        self.watch = watch  # nexus.alerts.watch.RecordWatch: alerts from what was stored
        self.ledger = CacheLedger(store, price_book)  # type: ignore[arg-type]

    async def __call__(self, records: Sequence[RequestRecord]) -> None:
        links: list[Any] = []
        try:
            links = await self.linker.link_batch(records)
            # the cache ledger (nexus/cache/); the pass's generation spares it a query per record
            await self.ledger.after_linking(records, links, self.linker.known.generation)
        finally:  # error spikes and forecasts need no links: watch even when linking failed
            if self.watch is not None:
                try:
                    self.watch.observe(records, links)
                except Exception:  # an alert bug must never stop recording
                    log.exception("alert detection failed for a batch of %d", len(records))

    async def catch_up_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                while links := await self.linker.catch_up():
                    await self.ledger.after_linking((), links)
            except StoreUnavailable as exc:
                log.warning("linking catch-up postponed: %s", exc)
            except Exception:  # the records are stored; a linker bug must not end linking for good
                log.exception("linking catch-up failed; trying again in %.0f s",
                              self.CATCH_UP_EVERY_S)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.CATCH_UP_EVERY_S)


def _send(report: Report) -> None:
    """One report line to the proxy process; a closed pipe means it is gone, which is fine."""
    with contextlib.suppress(OSError):
        view = memoryview(encode_report(report))
        while view:
            view = view[os.write(sys.stdout.fileno(), view) :]


async def record(config: RecorderConfig, stop: asyncio.Event, wakeup: asyncio.Event) -> int:
    from nexus.recorder.collector import tune_collector
    from nexus.recorder.dead_letters import SPILL_FOLDER
    from nexus.recorder.follow import SpoolFollower
    from nexus.recorder.orphans import adopt_orphans
    from nexus.recorder.spool import lock
    from nexus.recorder.writer import Writer, WriterStats
    from nexus.usage.cost import make_cost_function
    from nexus.usage.prices import load_price_book

    own = config.spool
    store = await _open_store(config.database_url, stop, config.retry_s)
    if store is None:
        return EXIT_STORE_DOWN
    store.on_commit = lambda: _send(Committed())  # type: ignore[attr-defined]
    # Another recorder may still be storing this folder (its proxy was just restarted): wait.
    recorder_lock = await asyncio.to_thread(lock, own / ".recorder.lock", wait=True)
    tasks = TaskSet()
    alerts_stop = asyncio.Event()
    try:
        watch, alert_worker = _alerts(config, store)
        if alert_worker is not None:
            tasks.spawn(alert_worker.run(alerts_stop), name="alert-sender")
        linking = _LiveLinking(store, watch, load_price_book(config.price_book_path))

        def progress(stats: WriterStats) -> None:
            _send(Progress(
                at=stats.position, idle=stats.idle, adopted=stats.adopted, written=stats.written,
                healthy=stats.healthy, failures=stats.failures,
            ))  # fmt: skip

        counting = Counting(store, config.replica)

        async def after_write(records: Sequence[RequestRecord]) -> None:
            await counting(records)  # first: limits wait for it, conversations do not
            await linking(records)

        writer = Writer(
            store,
            SpoolFollower(own),
            cost=make_cost_function(config.price_book_path),
            on_written=after_write,
            on_progress=progress,
            adopted=adopt_orphans(own.parent, own, await store.database_id()),  # type: ignore[attr-defined]
            retry_s=config.retry_s,
            wakeup=wakeup,
            spill_dir=own.parent.parent / SPILL_FOLDER,
        )
        tasks.spawn(linking.catch_up_forever(stop), name="link-catch-up")
        tune_collector()  # start-up is done: what it built is out of the collector's way
        try:
            await writer.run(stop)
        finally:
            stop.set()
            alerts_stop.set()  # the sender sends what the last batches raised, then ends
        await tasks.wait(timeout=5.0)
    finally:
        await tasks.close()
        os.close(recorder_lock)
        await store.close()
    return 0


def _alerts(config: RecorderConfig, store: Store) -> tuple[Any, Any]:
    """The detectors and their sender; (None, None) when no destination is configured. ``nexus
    serve`` validated the file before starting this process; a file broken since then leaves
    alerts off here, loudly, and recording goes on."""
    from nexus.alerts.config import load_alert_config
    from nexus.errors import ConfigError

    path = config.alerts_config
    try:
        alert_config = load_alert_config(path) if path else None
    except ConfigError as exc:
        log.error("alerts are off in the recorder: %s", exc)
        alert_config = None
    if alert_config is None or not alert_config.all_destinations():
        return None, None  # nothing to send to: no detectors, no sender (nor their imports)
    from nexus.alerts import AlertQueue
    from nexus.alerts.watch import RecordWatch
    from nexus.alerts.worker import AlertWorker

    queue = AlertQueue()
    sender = AlertWorker(queue, alert_config, claim=store.claim_alert)  # type: ignore[attr-defined]
    return RecordWatch(alert_config, queue), sender


async def _open_store(url: str, stop: asyncio.Event, retry_s: float) -> Store | None:
    """The store, once it answers (retrying with backoff); None if told to stop before that."""
    from nexus.store import build_store

    failures, delay = 0, retry_s
    while True:
        store = build_store(url, inline=True)  # this loop serves nobody who waits
        try:
            await store.open()
            return store
        except StoreUnavailable as exc:
            failures += 1
            if failures == 1:
                log.error(
                    "the recorder cannot reach the store (%s); records wait in the spool", exc
                )
            _send(StoreDown(failures))
            with contextlib.suppress(Exception):
                await store.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return None
        delay = min(delay * 2, 15.0)


async def _main() -> int:
    from nexus.logs import setup_logging
    from nexus.recorder.priority import set_priority

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    wakeup = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = RecorderConfig.decode(await reader.readline())
    setup_logging(config.log_level)  # the same level as ``nexus serve``
    set_priority(config.priority)  # before any thread starts: they inherit it
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def listen() -> None:
        while await reader.read(4096):
            wakeup.set()
        stop.set()  # the proxy process closed the pipe: it stopped, or died

    tasks = TaskSet()
    tasks.spawn(listen(), name="recorder-stdin")
    try:
        return await record(config, stop, wakeup)
    finally:
        await tasks.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        sys.exit(asyncio.run(_main()))
    sys.exit(uvloop.run(_main()))


if __name__ == "__main__":
    main()
