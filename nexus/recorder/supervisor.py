"""The proxy process's side of the recorder child (``python -m nexus.recorder``): starts it, wakes
it, reads its reports, restarts it if it dies, and stops it after it has stored the spool.

Wake-ups cost one byte on a pipe, and only when the recorder said it was idle: under load it reads
the spool in a loop and no byte is sent. Nothing is lost while it is down or restarting: the spool
holds every exchange and the next recorder starts from the oldest segment. The messages on the
pipe are ``protocol.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from nexus.recorder.protocol import (
    Progress,
    ProtocolError,
    RecorderConfig,
    StoreDown,
    decode_report,
)
from nexus.recorder.spool import Position, Spool

log = logging.getLogger("nexus.recorder")
MODULE = "nexus.recorder"
MAX_RESTART_DELAY_S = 30.0


@dataclass
class RecorderStatus:
    """What the child last reported."""

    stored: Position = Position(0, 0)  # the proxy's folder is stored up to here
    adopted: int | None = None  # folders of earlier runs still to store; None: not reported yet
    written: int = 0
    healthy: bool = True
    failures: int = 0


class RecorderSupervisor:
    def __init__(
        self,
        spool: Spool,
        config: RecorderConfig,
        *,
        on_report: Callable[[], None] = lambda: None,
        restart_s: float = 1.0,
    ) -> None:
        self.spool = spool
        self.config = config
        self.on_report = on_report
        self.restart_s = restart_s
        self.status = RecorderStatus()
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._armed = False  # the recorder is idle: the next append must wake it
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._progress = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def stored(self) -> Position:
        return self.status.stored

    def poke(self) -> None:
        """Something was appended to the spool: wake the recorder if it sleeps."""
        if not self._armed or self._proc is None or self._proc.stdin is None:
            return
        self._armed = False
        with contextlib.suppress(RuntimeError, ConnectionError):
            self._proc.stdin.write(b"\n")

    async def run(self) -> None:
        """Keep a recorder running until ``stop``; restart one that dies, with backoff."""
        delay = self.restart_s
        while not self._stopping:
            loop = asyncio.get_running_loop()
            started = loop.time()
            code = await self._run_once()
            if self._stopping:
                return
            if loop.time() - started > MAX_RESTART_DELAY_S:
                delay = self.restart_s  # it ran for a while: a new failure, not the same one
            log.error("the recorder process exited (code %s); restarting it in %.1f s; "
                      "records wait in the spool", code, delay)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    async def _run_once(self) -> int:
        self._proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", MODULE,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1024 * 1024,
        )  # fmt: skip
        self.starts += 1
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(self.config.encode())
        if self._stopping:  # stop() came while it was starting
            proc.stdin.close()
        while line := await proc.stdout.readline():
            self._on_line(line)
        self._armed = False
        return await proc.wait()

    def _on_line(self, line: bytes) -> None:
        try:
            report = decode_report(line)
        except ProtocolError as exc:
            log.warning("%s", exc)
            return
        status = self.status
        if isinstance(report, Progress):
            status.stored, status.adopted, status.written = (
                report.at,
                report.adopted,
                report.written,
            )
            status.healthy, status.failures = report.healthy, report.failures
            self._progress.set()
            if report.idle:
                self._armed = True
                if self.spool.position() > status.stored:
                    self.poke()  # appended while it was reporting
        elif isinstance(report, StoreDown):
            status.healthy, status.failures = False, report.failures
        self.on_report()

    async def caught_up(self, target: Position, timeout_s: float) -> None:
        """Wait until everything before ``target`` and every adopted folder is stored."""
        async with asyncio.timeout(timeout_s):
            while self.status.stored < target or self.status.adopted != 0:
                self._progress.clear()
                await self._progress.wait()

    async def stop(self, timeout_s: float) -> None:
        """Let the recorder store what the spool holds, then exit; past ``timeout_s`` it is
        terminated (the rest stays in the spool for the next start)."""
        self._stopping = True
        self._stop_requested.set()
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            log.warning("the recorder did not finish in %.0f s; the rest stays in the spool",
                        timeout_s)  # fmt: skip
            proc.terminate()
            try:
                async with asyncio.timeout(5.0):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
