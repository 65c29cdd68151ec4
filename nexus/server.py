"""Composition root of ``nexus serve``: builds every part, runs them in one event loop, stops them.

Owns the TaskSet of the long-lived tasks: both Hypercorn servers (proxy and API), the supervisor of
the recorder process (``python -m nexus.recorder``: it stores what the proxy spools), the event listener,
the analysis worker, and ``/mcp`` on the proxy port (``nexus.mcp``) with its prompt library's
watcher and git sync. Start-up order: data folder and both sockets (what a setting can make fail
comes first) → store (migrations) → spool → recorder → the servers; a failed start undoes what it
built. Shutdown: stop accepting → in-flight responses end → close the spool → the recorder stores it
to the end (with a deadline) → cancel → await → close the store. A side task that dies stops the
server loudly.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from nexus.aio import TaskSet
from nexus.errors import ConfigError
from nexus.settings import Settings

log = logging.getLogger("nexus.server")
DRAIN_DEADLINE_S = 10.0


@dataclass
class Endpoints:
    proxy_url: str
    api_url: str
    database: str
    auth_mode: str
    team_hosts: list[str] = field(default_factory=list)


class Server:
    """One ``nexus serve`` process. ``async with Server(settings) as server:`` runs it in the
    current loop (tests use port 0 and read ``server.endpoints``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tasks = TaskSet()
        self._stop = asyncio.Event()
        self._components: list[Any] = []
        self.endpoints: Endpoints | None = None
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._listener: asyncio.Task[None] | None = None
        self._servers: list[asyncio.Task[None]] = []
        self._undo: list[Callable[[], Awaitable[None]]] = []  # what start() built so far

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build and start everything; a start that fails undoes what it built (sockets, store,
        recorder) before raising, so the process can exit at once instead of hanging."""
        try:
            await self._start()
        except BaseException:
            self._closed = True
            for undo in reversed(self._undo):
                try:
                    await undo()
                except Exception:
                    log.exception("while undoing a failed start")
            raise

    async def _start(self) -> None:
        # What a setting can make fail comes first, before the heavy imports: a start that cannot
        # work says so within a second.
        s = self.settings
        prepare_data_dir(s.data_dir)
        self._undo.append(self._close_sockets)
        proxy_sock = _bind(s.host, s.proxy_port, "--proxy-port / NEXUS_PROXY_PORT")
        self._sockets.append(proxy_sock)
        api_sock = _bind(s.host, s.api_port, "--api-port / NEXUS_API_PORT")
        self._sockets.append(api_sock)

        alert_config = _load_alerts(s)  # a broken alerts.json stops the start, naming the field

        from nexus.alerts import NO_ALERTS, AlertQueue, AlertSink
        from nexus.api.app import make_api_app
        from nexus.events import EventBus, listen_for_events
        from nexus.limits.alerting import limit_alerts
        from nexus.limits.counters import CounterBook
        from nexus.limits.feed import CounterFeed
        from nexus.limits.limiter import Limiter
        from nexus.mcp import mount
        from nexus.proxy.app import make_proxy_app
        from nexus.proxy.credentials import Credentials
        from nexus.proxy.forward import Forwarder
        from nexus.recorder.protocol import RecorderConfig
        from nexus.recorder.spool import Spool, folder_name
        from nexus.recorder.supervisor import RecorderSupervisor
        from nexus.recorder.tap import Tap
        from nexus.redact import remember_secrets
        from nexus.store import open_store

        remember_secrets(s.api_key, s.gemini_api_key)  # redacted by value wherever they appear
        self.store = await open_store(s)  # migrations run here, before the recorder starts
        self._undo.append(self.store.close)
        self.bus = EventBus()
        self.store.on_commit = self.bus.notify  # type: ignore[attr-defined]
        # One spool per bound proxy port and database: two processes on one machine never share
        # segment files, and a folder left behind is stored only into the database it was for.
        port = proxy_sock.getsockname()[1]
        database_id = await self.store.database_id()  # type: ignore[attr-defined]
        spool_dir = s.data_dir / "spool" / folder_name(port, database_id)
        try:
            self.spool = Spool(spool_dir)
        except OSError as exc:
            raise _unwritable(spool_dir, exc) from exc
        self._undo.append(self._close_spool)
        # Limit counters: this process's replica id names the rows its recorder writes.
        self.counters = CounterBook(replica_id(port))
        self.counter_feed = CounterFeed(self.store, self.counters)  # type: ignore[arg-type]
        self.recorder = RecorderSupervisor(
            self.spool,
            RecorderConfig(
                spool=self.spool.directory,
                database_url=s.database_url,
                price_book_path=s.price_book_path,
                retry_s=s.store_retry_s,
                log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                alerts_config=s.alerts_config_path,
                replica=self.counters.replica,
            ),
            on_report=self._on_recorder_report,
        )
        self.tap = Tap(self.spool, self.recorder.poke)
        # Alerts this process raises (OAuth refresh failures, limits decided before forwarding)
        # go through this queue to a sender task beside the traffic; the recorder runs its own.
        # Without a destination the sink drops them at once (no queue, no sender).
        queue = AlertQueue() if alert_config.all_destinations() else None
        self.alerts: AlertSink = queue if queue is not None else NO_ALERTS
        self.credentials = Credentials(
            s.credentials_dir, token_url=s.oauth_token_url, alerts=self.alerts
        )
        self._undo.append(self.credentials.close)
        self.limiter = Limiter(self.counters, alert=limit_alerts(self.alerts))
        self.credentials.warn_loose_permissions()
        self.credentials.check_policies()  # a bad policy stops the start, naming file and field
        self.forwarder = Forwarder(
            upstream_url=s.upstream_url,
            tap=self.tap,
            gatekeeper=self.credentials,
            connect_timeout_s=s.connect_timeout_s,
            read_timeout_s=s.upstream_timeout_s,
            limiter=self.limiter,
        )
        await self.forwarder.start()
        self._undo.append(self.forwarder.close)
        self.tasks.spawn(self._guard(self.recorder.run()), name="recorder")
        if queue is not None:
            from nexus.alerts.worker import AlertWorker
            from nexus.store.base import AlertSendStore

            sends: AlertSendStore = self.store  # type: ignore[assignment]
            sender = AlertWorker(queue, alert_config, claim=sends.claim_alert)
            self.tasks.spawn(self._guard(sender.run(self._stop)), name="alert-sender")
        self._undo.append(self._stop_tasks)
        listener = listen_for_events(self.store, self.bus)  # type: ignore[arg-type]
        # Cancelled at stop, not awaited: it listens until told otherwise.
        self._listener = self.tasks.spawn(self._guard(listener), name="event-listener")
        await self.counter_feed.read_once()  # limits start from what is recorded, not from zero
        self.tasks.spawn(self._guard(self.counter_feed.run(self._stop)), name="limit-counters")
        self._start_analysis_worker()

        hosts = self.credentials.hosts()
        self.endpoints = Endpoints(
            proxy_url=_url(proxy_sock),
            api_url=_url(api_sock),
            database=_describe_db(s),
            auth_mode=f"team mode ({len(hosts)} credential files)" if hosts else "pass-through",
            team_hosts=hosts,
        )
        proxy_app = mount(
            "/mcp",  # beside the proxy, never through it: MCP calls are not API traffic
            await self._start_mcp(),
            make_proxy_app(self.forwarder, max_body_bytes=s.max_body_bytes),
        )
        api_app = make_api_app(self.store, s, self.bus, prompts=self.prompts, proxy_port=port)
        self._servers = [
            self.tasks.spawn(self._guard(self._serve(proxy_app, proxy_sock)), name="proxy-server"),
            self.tasks.spawn(self._guard(self._serve(api_app, api_sock)), name="api-server"),
        ]

    def _on_recorder_report(self) -> None:
        self.bus.notify()  # its commits appended events: wake the live feed
        self.counter_feed.wake()  # and it may have counted calls: read the counters soon

    async def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()

    async def _close_spool(self) -> None:
        self.spool.close()

    async def _stop_tasks(self) -> None:
        self._stop.set()
        await self.recorder.stop(DRAIN_DEADLINE_S)
        await self.tasks.close()

    async def _start_mcp(self) -> Any:
        """The prompt library (read once before serving, then watched), its git sync if any, and
        the ``/mcp`` endpoint over them and the store."""
        from nexus.mcp import McpEndpoint, Tools
        from nexus.prompts.config import git_sync_for, library_for

        s = self.settings
        self.prompts = library_for(s)
        await asyncio.to_thread(self.prompts.refresh)
        self.tasks.spawn(self._guard(self.prompts.watch(self._stop)), name="prompt-library")
        sync = git_sync_for(s)
        if sync is not None:
            self.tasks.spawn(self._guard(sync.run_periodically(self._stop)), name="prompts-git")
        self.mcp = McpEndpoint(self.prompts, Tools(self.store), self.credentials, api_key=s.api_key)
        self.tasks.spawn(self._guard(self.mcp.run(self._stop)), name="mcp")
        return self.mcp

    def _start_analysis_worker(self) -> None:
        if not self.settings.gemini_api_key:
            return
        from nexus.analysis.jobs import build_worker

        worker = build_worker(self.store, self.settings, bus=self.bus)
        self.tasks.spawn(self._guard(worker.run(self._stop)), name="analysis-worker")

    async def _serve(self, app: Any, sock: socket.socket) -> None:
        config = Config()
        self._sockets.remove(sock)
        config.bind = [f"fd://{sock.detach()}"]  # Hypercorn adopts the descriptor and closes it
        config.accesslog = None
        config.errorlog = logging.getLogger("nexus.hypercorn")
        config.keep_alive_timeout = 75
        config.h11_pass_raw_headers = True  # header names reach the proxy in the client's case
        config.graceful_timeout = 5
        await serve(app, config, shutdown_trigger=self._stop.wait)

    async def _guard(self, coro: Any) -> None:
        """Run a side task; if it dies, say so loudly and stop the whole server."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a Nexus task died; stopping the server")
            self._stop.set()
            self.failed = True

    failed = False

    async def wait(self) -> None:
        await self._stop.wait()

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every exchange handed to the tap so far is stored (tests, benchmarks)."""
        try:
            await self.recorder.caught_up(self.spool.position(), timeout_s)
        except TimeoutError:
            raise TimeoutError("the recorder did not catch up in time") from None

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        """Stop once; later calls return at once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()  # servers stop accepting; in-flight streams finish or are cut
        await asyncio.sleep(0)
        self.bus.close()
        if self._listener is not None:
            self._listener.cancel()
        if self._servers:  # in-flight responses end (or are cut) before the spool closes
            await asyncio.wait(self._servers, timeout=DRAIN_DEADLINE_S)
        self.spool.close()  # nothing appends any more: the recorder may store it to the end
        await self.recorder.stop(DRAIN_DEADLINE_S)
        await self.tasks.wait(timeout=DRAIN_DEADLINE_S)
        await self.tasks.close()
        await self.forwarder.close()
        await self.credentials.close()
        for sock in self._sockets:
            sock.close()
        await self.store.close()


def _load_alerts(settings: Settings) -> Any:
    """The alerts configuration, validated (``ConfigError`` names the file and field)."""
    from nexus.alerts.config import is_loose, load_alert_config

    path = settings.alerts_config_path
    config = load_alert_config(path, required=settings.alerts_config is not None)
    if config.path is not None and is_loose(config.path):
        log.warning("%s may be read by others and holds webhook secrets. Run: chmod 600 %s",
                    path, path)  # fmt: skip
    return config


def replica_id(port: int) -> str:
    """Names this process's limit counter rows: readable, and new at every start (a restarted
    proxy's earlier rows count as another replica's, which they are)."""
    from nexus.records import new_id

    return f"{socket.gethostname()[:40]}:{port}:{new_id()[-8:]}"


def prepare_data_dir(folder: Path) -> None:
    """Create the data folder (0700: it holds the spool and the default database) and prove it
    writable, before anything is built on it. An existing folder keeps its mode (it may be shared
    on purpose); the files Nexus writes in it are 0600 whatever the folder's mode."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise _unwritable(folder, exc) from exc


def _unwritable(folder: Path, exc: OSError) -> ConfigError:
    reason = exc.strerror or str(exc)
    return ConfigError(
        f"cannot write the data folder {folder}: {reason}; "
        "choose another with --data-dir or NEXUS_DATA_DIR"
    )


def _bind(host: str, port: int, setting: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {_bind_hint(exc, setting)}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def _bind_hint(exc: OSError | OverflowError, setting: str) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(exc, OverflowError):
        return f"a port is 0-65535: fix {setting}"
    if code == errno.EADDRINUSE:
        return f"the port is in use: stop what holds it or choose another with {setting}"
    if code == errno.EACCES:
        return f"ports below 1024 need privileges: choose another with {setting}"
    if isinstance(exc, socket.gaierror) or code == errno.EADDRNOTAVAIL:
        return f"{exc.strerror}: not an address of this machine; fix --host / NEXUS_HOST"
    return f"{exc.strerror or exc}: check --host / NEXUS_HOST and {setting}"


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _describe_db(settings: Settings) -> str:
    if settings.is_postgres:
        from nexus.redact import redact_text

        url = settings.database_url
        if "@" in url:  # hide a password in the URL
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            url = f"{scheme}://{creds.split(':', 1)[0]}@{host}"
        return redact_text(url)
    return str(settings.sqlite_path)
