"""A server started in the background can be stopped: `nexus serve --stop`, `nexus claude --stop`
(found by its pid file in the data folder), and the user is told where it logs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from nexus.cli.output import EXIT_FAILURE
from tests.cli.entry import clean_env, run_nexus
from tests.fakes.serve_process import NexusProcess, free_port

_STUB_CLAUDE = "#!{python}\nimport sys\nsys.exit(0)\n"


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_serve_stop_stops_the_server_of_that_port_and_data_folder(tmp_path, fake_upstream):
    data, port = tmp_path / "data", free_port()
    env = clean_env(tmp_path / "home", COLUMNS="250")
    args = ["--data-dir", str(data), "--proxy-port", str(port), "--api-port", str(free_port())]
    server = await NexusProcess([*args, "--upstream", fake_upstream.url], env, tmp_path).start()
    try:
        assert server.proc is not None
        pid_file = data / f"serve.{port}.pid"
        assert pid_file.read_text().split()[0] == str(server.proc.pid)
        recorder = None
        for _ in range(100):  # the recorder starts beside the server, a moment after its banner
            if (recorder := server.recorder_pid()) is not None:
                break
            await asyncio.sleep(0.05)
        assert f"nexus serve --stop --proxy-port {port} --data-dir {data}" in "".join(server.log)

        stopped = run_nexus(
            "serve", "--stop", "--proxy-port", str(port), "--data-dir", str(data), env=env
        )
        assert stopped.code == 0, stopped.stderr
        assert f"stopped nexus serve (pid {server.proc.pid}, port {port})" in stopped.stderr
        assert await server.proc.wait() == 0
        assert not pid_file.exists()
        assert recorder is not None and not is_running(recorder)
    finally:
        await server.kill()

    again = run_nexus(
        "serve", "--stop", "--proxy-port", str(port), "--data-dir", str(data), env=env
    )
    assert again.code == EXIT_FAILURE and "Traceback" not in again.stderr
    (line,) = again.error_lines
    assert f"no nexus serve on port {port}" in line and "--data-dir" in line


def test_claude_says_where_its_server_logs_and_claude_stop_stops_it(tmp_path, fake_upstream):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").write_text(_STUB_CLAUDE.format(python=sys.executable))
    (bin_dir / "claude").chmod(0o755)
    data, port = tmp_path / "data", free_port()
    env = clean_env(
        tmp_path / "home",
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        NEXUS_DATA_DIR=str(data),
        NEXUS_PROXY_PORT=str(port),
        NEXUS_API_PORT=str(free_port()),
        NEXUS_UPSTREAM_URL=fake_upstream.url,
        NEXUS_CREDENTIALS_DIR=str(tmp_path / "credentials"),
    )
    pid_file = data / f"serve.{port}.pid"
    try:
        ran = run_nexus("claude", "-p", "hi", env=env, timeout_s=60)
        assert ran.code == 0, ran.stderr
        assert f"log: {data / 'serve.log'}" in ran.stderr and "nexus claude --stop" in ran.stderr
        pid = int(pid_file.read_text().split()[0])
        assert is_running(pid)  # left running for the next session

        stopped = run_nexus("claude", "--stop", env=env)
        assert stopped.code == 0, stopped.stderr
        assert (
            f"stopped nexus serve (pid {pid}, port {port}); its log: {data / 'serve.log'}"
            in " ".join(stopped.stderr.split())
        )
        assert not is_running(pid) and not pid_file.exists()
        assert "stopping: the recorder stores what is left" in (data / "serve.log").read_text()
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
