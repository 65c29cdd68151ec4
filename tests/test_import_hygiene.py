"""The layers stay layered: the TUI and CLI start without server drivers, and import-linter's
contracts (pyproject.toml) hold for the whole package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_tui_and_cli_import_no_server_drivers():
    code = (
        "import sys, nexus.cli.main, nexus.tui, nexus.client;"
        "heavy = {'quart', 'hypercorn', 'asyncpg', 'aiosqlite', 'google.genai'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_importing_nexus_is_cheap():
    code = "import sys, nexus; print(len([m for m in sys.modules if m.startswith('nexus')]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1"


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
