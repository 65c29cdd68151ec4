"""A prompt library in a local bare git repository: what ``--prompts-git`` pulls in the tests of
the sync itself, ``nexus prompts sync`` and ``/mcp``'s reload."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main")


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *_IDENTITY, *args], cwd=cwd, check=True, capture_output=True)


def commit(work: Path, path: str, text: str, message: str) -> None:
    """Write ``path`` in the working clone, commit it and push it to the bare repository."""
    _write(work, {path: text})
    _push(work, message)


def prompt_repo(tmp_path: Path, files: Mapping[str, str]) -> tuple[Path, Path]:
    """(bare repository, a working clone to commit from), ``files`` (path → text) on main."""
    bare, work = tmp_path / "prompts.git", tmp_path / "work"
    git("init", "--bare", "-b", "main", str(bare))
    git("clone", str(bare), str(work))
    _write(work, files)
    _push(work, "first")
    return bare, work


def _write(work: Path, files: Mapping[str, str]) -> None:
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)


def _push(work: Path, message: str) -> None:
    git("add", ".", cwd=work)
    git("commit", "-m", message, cwd=work)
    git("push", "origin", "HEAD:main", cwd=work)
