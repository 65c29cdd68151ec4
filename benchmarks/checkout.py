"""Which Nexus a benchmark runs: the tree it sits in, or another checkout named by
``NEXUS_BENCH_CHECKOUT`` (compare_commits.py sets it to time an older commit with today's script).

A benchmark that imports Nexus calls ``code_root()`` before its first ``nexus`` or ``tests``
import; one that starts ``nexus serve`` uses ``nexus_python()`` and ``nexus_env()``, so the
process runs the checkout's code in the checkout's own virtual environment.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ENV = "NEXUS_BENCH_CHECKOUT"
OWN_ROOT = Path(__file__).resolve().parent.parent


def checkout() -> Path:
    """The tree whose ``nexus`` is measured."""
    named = os.environ.get(ENV)
    return Path(named).resolve() if named else OWN_ROOT


def code_root() -> Path:
    """Put the measured tree first on ``sys.path`` (its ``nexus`` and ``tests``); returns it."""
    root = checkout()
    sys.path.insert(0, str(root))
    return root


def nexus_python() -> str:
    """The interpreter that runs the measured tree: its ``.venv``, else this one."""
    root = checkout()
    venv = root / ".venv" / "bin" / "python"
    return str(venv) if root != OWN_ROOT and venv.exists() else sys.executable


def nexus_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with PYTHONPATH naming the measured tree only (never this script's tree, whose
    ``nexus`` would shadow the checkout's)."""
    return {**env, "PYTHONPATH": str(checkout())}


def own_module(relative: str) -> ModuleType:
    """A module of this script's tree, loaded by path whatever tree is measured: the benchmark's
    own measures (e.g. tests/store/distinct_content.py) may be newer than the checkout."""
    path = OWN_ROOT / relative
    spec = importlib.util.spec_from_file_location(f"_bench_own_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
