"""The real Claude Code CLI for end-to-end tests: finds or installs it, and runs it offline.

``claude_cli`` (session fixture) is the path of a ``claude`` executable: the one on PATH, else one
installed with npm into a cache directory reused across runs (``NEXUS_TEST_CLAUDE_DIR`` or
``~/.cache/nexus-tests/claude-code``). Tests skip, saying why, only when npm is missing or fails.
``run_claude`` runs it in print mode against a base URL with an isolated home, so nothing it does
reaches the network or the developer's own configuration.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

__all__ = [
    "SCENARIOS",
    "TEST_API_KEY",
    "capture",
    "claude_cli",
    "claude_version",
    "find_or_install_claude",
    "run_claude",
    "run_claude_interactive",
]

PACKAGE = "@anthropic-ai/claude-code"
TEST_API_KEY = "sk-ant-api03-nexus-test-key-0000000000000000000000"


def cache_dir() -> Path:
    configured = os.environ.get("NEXUS_TEST_CLAUDE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "nexus-tests" / "claude-code"


def find_or_install_claude() -> tuple[Path | None, str]:
    """The CLI's path, or None and the reason it could not be had."""
    on_path = shutil.which("claude")
    if on_path:
        return Path(on_path), ""
    prefix = cache_dir()
    installed = prefix / "node_modules" / ".bin" / "claude"
    if installed.exists():
        return installed, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed, so the Claude Code CLI cannot be installed"
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"npm install {PACKAGE} timed out"
    if done.returncode != 0 or not installed.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, f"npm install {PACKAGE} failed: {' / '.join(tail)}"
    return installed, ""


def claude_version(cli: Path) -> str:
    done = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip().split(" ")[0]


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    cli, reason = find_or_install_claude()
    if cli is None:
        pytest.skip(reason)
    return cli


def claude_env(base_url: str, home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an offline run against ``base_url``, with an isolated home."""
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    result = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": TEST_API_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "TERM": "dumb",
        "IS_SANDBOX": "1",
    }
    if env:
        result.update(env)
    return result


def run_claude(
    cli: Path,
    base_url: str,
    prompt: str,
    *,
    home: Path,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``claude -p PROMPT --output-format json --permission-mode bypassPermissions``.

    The working directory defaults to ``home/work`` so a later ``-c`` (in ``extra_args``) with the
    same home and cwd continues the same session.
    """
    workdir = cwd or home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        str(cli),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--permission-mode",
        "bypassPermissions",
        *extra_args,
    ]
    return subprocess.run(
        args,
        cwd=workdir,
        env=claude_env(base_url, home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Interactive mode under tmux (captures only: it waits by polling the screen and the fake)


def run_claude_interactive(
    cli: Path,
    base_url: str,
    prompts: Sequence[str],
    *,
    home: Path,
    request_count: Callable[[], int],
    settle_s: float = 1.5,
    timeout_s: float = 60,
) -> str:
    """Type each prompt into the TUI, waiting after each until the CLI has made a call and then
    gone quiet for ``settle_s``. Returns the last screen. Needs tmux."""
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    env = claude_env(base_url, home, {"TERM": "xterm-256color"})
    # Skip the onboarding, API-key and trust screens (they would try the real API).
    (Path(env["CLAUDE_CONFIG_DIR"]) / ".claude.json").write_bytes(
        orjson.dumps(
            {
                "hasCompletedOnboarding": True,
                "customApiKeyResponses": {"approved": [TEST_API_KEY[-20:]], "rejected": []},
                "projects": {
                    str(workdir): {
                        "hasTrustDialogAccepted": True,
                        "hasCompletedProjectOnboarding": True,
                    }
                },
            }
        )
    )
    session = f"nexus-capture-{os.getpid()}"
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    command = ["timeout", "--foreground", str(int(timeout_s * (len(prompts) + 1))), str(cli)]
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "160",
            "-y",
            "50",
            "-c",
            str(workdir),
            *env_args,
            *command,
        ],
        check=True,
    )
    try:
        _wait_until(lambda: "❯" in _screen(session), timeout_s)
        for prompt in prompts:
            before = request_count()
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", prompt], check=True)
            time.sleep(0.3)  # the TUI drops an Enter that arrives with the pasted text
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            _wait_until(partial(_grew, request_count, before), timeout_s)
            _wait_quiet(request_count, settle_s, timeout_s)
        return _screen(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def _screen(session: str) -> str:
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    )
    return done.stdout


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the Claude Code TUI did not get there in time")
        time.sleep(0.1)


def _grew(count: Callable[[], int], before: int) -> bool:
    return count() > before


def _wait_quiet(count: Callable[[], int], settle_s: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last, since = count(), time.monotonic()
    while time.monotonic() - since < settle_s and time.monotonic() < deadline:
        time.sleep(0.1)
        if count() != last:
            last, since = count(), time.monotonic()


# ---------------------------------------------------------------------------------------------
# Capturing real traffic into tests/data/claude_code/ (python -m tests.fakes.claude_code OUT_DIR)

REDACTED_KEY = "sk-ant-test-redacted"
_SECRET_HEADERS = {"x-api-key", "authorization"}


@dataclass(frozen=True, slots=True)
class Scenario:
    prompts: tuple[str, ...]  # print mode: one run each, later runs with -c; interactive: typed
    is_interactive: bool = False


SCENARIOS: dict[str, Scenario] = {
    "simple": Scenario(("say hi to nexus",)),
    "tool_loop": Scenario(("please run echo hello-nexus and tell me what it printed",)),
    "subagent": Scenario(("spawn a sub-agent that runs one command, then answer",)),
    "continue": Scenario(("remember the word pineapple", "what word did I ask you to remember?")),
    "interactive_compact": Scenario(
        (
            "remember the word pineapple",
            "please run echo hello-tui",
            "and now say something else",
            "/compact",
            "what word did I ask you to remember?",
        ),
        is_interactive=True,
    ),
}


def capture(cli: Path, name: str, scenario: Scenario) -> dict[str, Any]:
    """Run the CLI against a fresh fake upstream and return every exchange it made."""
    from tests.fakes.upstream import ClaudeCodeResponder, FakeUpstream

    results: list[Any] = []
    # The TUI may still be writing its transcript as it is killed: cleanup errors are harmless.
    with tempfile.TemporaryDirectory(
        prefix=f"nexus-capture-{name}-", ignore_cleanup_errors=True
    ) as tmp:
        home = Path(tmp)
        with FakeUpstream.in_thread(ClaudeCodeResponder(), record_responses=True) as upstream:
            if scenario.is_interactive:
                screen = run_claude_interactive(
                    cli,
                    upstream.url,
                    scenario.prompts,
                    home=home,
                    request_count=lambda: len(upstream.exchanges),
                )
                results.append({"final_screen": screen.rstrip()})
            for i, prompt in enumerate(() if scenario.is_interactive else scenario.prompts):
                done = run_claude(
                    cli, upstream.url, prompt, home=home, extra_args=("-c",) if i else ()
                )
                if done.returncode != 0:
                    raise RuntimeError(f"{name}: claude failed: {done.stderr or done.stdout}")
                results.append(orjson.loads(done.stdout))
            exchanges = [_exchange_json(req, resp) for req, resp in upstream.exchanges]
    return {
        "scenario": name,
        "cli_version": claude_version(cli),
        "mode": "interactive" if scenario.is_interactive else "print",
        "prompts": list(scenario.prompts),
        "cli_results": results,
        "exchanges": exchanges,
    }


def _exchange_json(request: Any, response: Any) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": [[k, _redact(k, v)] for k, v in request.headers],
        "body": request.body.decode("utf-8"),
        "response": {
            "status": response.status,
            "headers": [[k, v] for k, v in response.headers],
            "body": response.body.decode("utf-8"),
        },
    }


def _redact(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    return "Bearer " + REDACTED_KEY if value.lower().startswith("bearer ") else REDACTED_KEY


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Capture real Claude Code traffic to JSON files.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    cli, reason = find_or_install_claude()
    if cli is None:
        sys.exit(reason)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.scenario or SCENARIOS:
        data = capture(cli, name, SCENARIOS[name])
        path = args.out_dir / f"{name}.json"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"{path}: {len(data['exchanges'])} exchanges, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
