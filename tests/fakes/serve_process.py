"""``nexus serve`` as a real subprocess, for what an in-process Server cannot show: kill -9, and
several processes writing one database at once.

``nexus_process(database_url, …)`` starts one (``python -m nexus serve`` with free ports, its own
data dir unless given) and returns a ``NexusProcess`` once its banner says it is serving. Teardown
kills whatever is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nexus.aio import TaskSet

_READY = re.compile(r"Use it:")  # the banner's last line: everything is up
_PROXY = re.compile(r"proxy\s+(http://\S+)")  # the bound URL (Use it may name a team host)
_API = re.compile(r"API\s+(http://\S+)")
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """A process's resident memory now, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def recorder_pid(serve_pid: int) -> int | None:
    """The recorder process (``python -m nexus.recorder``) a ``nexus serve`` runs as its only child."""
    try:
        with open(f"/proc/{serve_pid}/task/{serve_pid}/children") as f:
            children = [int(pid) for pid in f.read().split()]
    except OSError:
        return None
    return children[0] if children else None


class NexusProcess:
    """One running ``nexus serve``; ``log`` collects its stderr (banner, warnings, tracebacks)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args, self.env, self.cwd = args, env, cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.proxy_url = ""
        self.api_url = ""
        self.log: list[str] = []
        self._tasks = TaskSet()

    async def start(self) -> NexusProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nexus", "serve", *self.args,
            env=self.env, cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._tasks.spawn(self._read_log(ready), name="nexus-process-log")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                self.proxy_url = await ready
        except (TimeoutError, EOFError) as exc:
            await self.kill()
            raise RuntimeError("nexus serve did not start:\n" + "".join(self.log)) from exc
        return self

    async def _read_log(self, ready: asyncio.Future[str]) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        proxy_url = ""
        while line := await self.proc.stderr.readline():
            text = line.decode(errors="replace")
            self.log.append(text)
            if not self.api_url and (api := _API.search(text)):
                self.api_url = api.group(1)
            if not proxy_url and (bound := _PROXY.search(text)):
                proxy_url = bound.group(1)
            if not ready.done() and proxy_url and _READY.search(text):
                ready.set_result(proxy_url)
        if not ready.done():
            ready.set_exception(EOFError("nexus serve exited"))

    async def stored(self, count: int, *, timeout_s: float = 15.0, **params: str) -> list[Any]:
        """The summary rows of ``GET /api/requests`` once at least ``count`` are stored."""
        import httpx

        async with httpx.AsyncClient(timeout=10) as client, asyncio.timeout(timeout_s):
            while True:
                answer = await client.get(self.api_url + "/api/requests", params=params)
                answer.raise_for_status()
                items: list[Any] = answer.json()["items"]
                if len(items) >= count:
                    return items
                await asyncio.sleep(0.1)

    def recorder_pid(self) -> int | None:
        """The recorder process this ``nexus serve`` runs beside itself."""
        assert self.proc is not None
        return recorder_pid(self.proc.pid)

    async def kill(self, *, recorder_too: bool = True) -> None:
        """SIGKILL: no shutdown code runs, as when the OOM killer or an operator kills it. With
        ``recorder_too`` its recorder process dies in the same instant (a whole service killed);
        without, the recorder sees the proxy go and stores what the spool holds, then exits."""
        if self.proc is not None and self.proc.returncode is None:
            recorder = self.recorder_pid() if recorder_too else None
            self.proc.send_signal(signal.SIGKILL)
            if recorder is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(recorder, signal.SIGKILL)
            await self.proc.wait()
        await self._tasks.wait(timeout=5)
        await self._tasks.close()

    async def terminate(self, timeout_s: float = 20.0) -> int:
        """SIGTERM (a graceful stop that drains the writer); returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout_s):
            code = await self.proc.wait()
        await self._tasks.wait(timeout=5)
        await self._tasks.close()
        return code


StartProcess = Callable[..., Awaitable[NexusProcess]]


async def raw_http(url: str, request: bytes, *, timeout_s: float = 10.0) -> tuple[int, bytes]:
    """Send ``request`` (a whole HTTP/1.1 request, byte for byte: no client normalises its path
    or Host) to ``url``'s host and port; returns the status and the raw response."""
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            answer = await reader.read()  # requests say "Connection: close"
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


@pytest.fixture
async def nexus_process(tmp_path: Path, fake_upstream: Any) -> AsyncIterator[StartProcess]:
    started: list[NexusProcess] = []

    async def start(
        database_url: str,
        *,
        proxy_port: int | None = None,
        data_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> NexusProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "ANTHROPIC_"))}
        env.pop("DATABASE_URL", None)
        env.update(
            NEXUS_DATA_DIR=str(data_dir or tmp_path / "data"),
            COLUMNS="250",  # the banner must not wrap
            PYTHONUNBUFFERED="1",
            **(extra_env or {}),
        )
        args = [
            "--db", database_url,
            "--proxy-port", str(proxy_port or free_port()),
            "--api-port", str(free_port()),
            "--upstream", fake_upstream.url,
            "--credentials-dir", str(tmp_path / "credentials"),
        ]  # fmt: skip
        process = NexusProcess(args, env, tmp_path)
        started.append(process)
        return await process.start()

    yield start
    for process in started:
        await process.kill()
