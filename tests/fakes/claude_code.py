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
from collections.abc import Mapping, Sequence
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
# Capturing real traffic into tests/data/claude_code/ (python -m tests.fakes.claude_code OUT_DIR)

REDACTED_KEY = "sk-ant-test-redacted"
_SECRET_HEADERS = {"x-api-key", "authorization"}

# scenario name -> the prompts of consecutive runs; runs after the first add ``-c`` (continue).
SCENARIOS: dict[str, tuple[str, ...]] = {
    "simple": ("say hi to nexus",),
    "tool_loop": ("please run echo hello-nexus and tell me what it printed",),
    "subagent": ("spawn a sub-agent that runs one command, then answer",),
    "continue": ("remember the word pineapple", "what word did I ask you to remember?"),
}


def capture(cli: Path, scenario: str, prompts: Sequence[str]) -> dict[str, Any]:
    """Run the CLI against a fresh fake upstream and return every exchange it made."""
    from tests.fakes.upstream import ClaudeCodeResponder, FakeUpstream

    results: list[Any] = []
    with tempfile.TemporaryDirectory(prefix=f"nexus-capture-{scenario}-") as tmp:
        home = Path(tmp)
        with FakeUpstream.in_thread(ClaudeCodeResponder(), record_responses=True) as upstream:
            for i, prompt in enumerate(prompts):
                done = run_claude(
                    cli, upstream.url, prompt, home=home, extra_args=("-c",) if i else ()
                )
                if done.returncode != 0:
                    raise RuntimeError(f"{scenario}: claude failed: {done.stderr or done.stdout}")
                results.append(orjson.loads(done.stdout))
            exchanges = [_exchange_json(req, resp) for req, resp in upstream.exchanges]
    return {
        "scenario": scenario,
        "cli_version": claude_version(cli),
        "prompts": list(prompts),
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
