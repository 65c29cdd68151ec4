"""Runs the real ``nexus`` entry point (the console script of this environment) as a subprocess,
as a person would: what it prints, its exit code, and how long it took."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

NEXUS = Path(sys.executable).with_name("nexus")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any Nexus or Anthropic setting, with its own HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEXUS_", "ANTHROPIC_", "GEMINI_", "XDG_"))
        and k not in ("DATABASE_URL", "DASHBOARD_API_KEY")
    }
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def run_nexus(*args: str, env: dict[str, str], timeout_s: float = 30.0) -> Result:
    """Run ``nexus ARGS``; its pipes stay open while any child of it lives, so a lingering child
    (a recorder left behind) makes this wait until ``timeout_s`` and fail."""
    started = time.monotonic()
    done = subprocess.run(
        [str(NEXUS), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
