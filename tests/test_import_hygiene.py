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


def test_every_package_and_module_of_nexus_has_a_layer():
    # A new package (nexus/cache, nexus/limits…) must take its place in the layers contract, or
    # nothing would stop it importing from above.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    top = {
        f"nexus.{p.stem}"
        for p in (ROOT / "nexus").iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert top - placed == set()
    assert placed - top == set()


def test_the_architecture_page_maps_every_layer():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        name.strip()
        for layer in layers
        for name in layer.split("|")
        if f"`{name.strip()}`" not in page
    ]
    assert missing == []
