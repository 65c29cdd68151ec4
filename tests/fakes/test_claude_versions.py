"""Which Claude Code versions the e2e tests run: ``@latest`` asked of npm once a day, and a clear
reason when it cannot be asked."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest

from tests.fakes.claude_code import latest_version

DAY = datetime.date(2026, 11, 24)


def _fake_npm(bin_dir: Path, script: str) -> Path:
    """An ``npm`` on PATH that runs ``script`` and counts its calls in ``calls``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text(f"#!/bin/sh\necho x >> {bin_dir / 'calls'}\n{script}\n")
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    return bin_dir / "calls"


def test_latest_is_asked_once_a_day_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_npm(tmp_path / "bin", "echo 2.1.332")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NEXUS_TEST_CLAUDE_DIR", str(tmp_path / "cache"))
    assert latest_version(DAY) == ("2.1.332", "")
    assert latest_version(DAY) == ("2.1.332", "")
    assert len(calls.read_text().splitlines()) == 1
    assert (tmp_path / "cache" / "latest-2026-11-24.txt").read_text().strip() == "2.1.332"
    latest_version(DAY + datetime.timedelta(days=1))  # a new day asks again
    assert len(calls.read_text().splitlines()) == 2


def test_an_unreachable_registry_gives_a_reason_and_caches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_npm(tmp_path / "bin", "echo 'npm ERR! code ENOTFOUND registry.npmjs.org' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NEXUS_TEST_CLAUDE_DIR", str(tmp_path / "cache"))
    version, reason = latest_version(DAY)
    assert version is None
    assert "registry cannot be reached" in reason and "ENOTFOUND" in reason
    assert not (tmp_path / "cache" / "latest-2026-11-24.txt").exists()
