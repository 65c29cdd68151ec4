"""The pid file of a running ``nexus serve`` (``<data dir>/serve.<proxy port>.pid``), and stopping
the server it names: ``nexus serve --stop`` and ``nexus claude --stop``.

One file per proxy port, as the spool has one folder per port: two servers may share a data folder.
A file whose process is gone, or is no longer a Nexus process, is stale and is removed, never
signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

STOP_TIMEOUT_S = 30.0  # the server drains its requests and its recorder stores the spool


def pid_path(data_dir: Path, proxy_port: int) -> Path:
    return data_dir / f"serve.{proxy_port}.pid"


def log_path(data_dir: Path) -> Path:
    """Where ``nexus claude`` sends the output of the server it starts in the background."""
    return data_dir / "serve.log"


def write_pid_file(data_dir: Path, proxy_port: int) -> Path:
    path = pid_path(data_dir, proxy_port)
    partial = path.with_suffix(".partial")
    partial.write_text(f"{os.getpid()}\n")
    partial.replace(path)
    return path


def remove_pid_file(path: Path) -> None:
    """Remove the file if it is still this process's (a newer server may have replaced it)."""
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().split()[0]) == os.getpid():
            path.unlink()


def running_pid(data_dir: Path, proxy_port: int) -> int | None:
    """The pid of the ``nexus serve`` the file names, if it still runs; a stale file is removed."""
    path = pid_path(data_dir, proxy_port)
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if _is_nexus(pid):
        return pid
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def stop_server(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM (the graceful stop: drain, store the spool), then wait; True once it has exited."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_nexus(pid):
            return True
        time.sleep(0.05)  # not our child: nothing to wait() on
    return False


def _is_nexus(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    is_zombie = status.rsplit(")", 1)[-1].split()[0] == "Z"
    return not is_zombie and b"nexus" in cmdline


def stop_command(data_dir: Path, proxy_port: int) -> str:
    """``nexus serve --stop``: the line to print once the server is gone; raises typer.Exit(1)
    (after one red line) when there is none or it does not stop."""
    from nexus.cli.output import fail

    pid = running_pid(data_dir, proxy_port)
    if pid is None:
        fail(
            f"no nexus serve on port {proxy_port} with the data folder {data_dir} "
            f"(no live {pid_path(data_dir, proxy_port).name}); check --proxy-port and --data-dir"
        )
    if not stop_server(pid):
        fail(f"nexus serve (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s")
    stopped = f"stopped nexus serve (pid {pid}, port {proxy_port})"
    log = log_path(data_dir)  # there is one when `nexus claude` started it in the background
    return f"{stopped}; its log: {log}" if log.exists() else stopped


def stop_hint(data_dir: Path, proxy_port: int, default_data_dir: Path) -> str:
    """The command that stops this server, with the flags it needs to find it."""
    flags = f" --proxy-port {proxy_port}" if proxy_port != 3000 else ""
    if data_dir.resolve() != default_data_dir.resolve():
        flags += f" --data-dir {data_dir}"
    return f"nexus serve --stop{flags}"
