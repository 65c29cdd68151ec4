"""Keeps a local checkout of a git repository of prompt files, for the prompt library to read.

The checkout lives in its own folder (``<data dir>/prompts-git``), apart from the local prompts
folder, so a sync never touches local-only files. ``sync()`` clones once (into a temporary folder
renamed into place, so a failed clone leaves nothing half-made), then fetches the branch and moves
the checkout to it; a checkout of another URL is replaced by a fresh clone. Every failure leaves the checkout as it was: the last good version keeps
serving. It runs ``git`` as a subprocess with a timeout and no terminal prompt, so it is blocking:
the server runs it in a worker thread on an interval (``run_periodically``), never on a request.
Credentials in the URL never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nexus.errors import ConfigError
from nexus.redact import redact_text

log = logging.getLogger("nexus.prompts.git")
GIT_TIMEOUT_S = 60.0
DEFAULT_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class GitSource:
    url: str
    branch: str = "main"
    path: str = ""  # the folder inside the repository that holds the prompt files
    interval_s: float = DEFAULT_INTERVAL_S


@dataclass(frozen=True, slots=True)
class SyncResult:
    ok: bool
    commit: str | None  # the checkout's commit after the sync (the last good one on failure)
    message: str


class GitSync:
    """One repository checked out into ``checkout``."""

    def __init__(self, source: GitSource, checkout: Path) -> None:
        if source.path and (Path(source.path).is_absolute() or ".." in Path(source.path).parts):
            raise ConfigError(
                f"--prompts-git-path {source.path!r} must be a folder inside the repository"
            )
        self.source = source
        self.checkout = checkout

    @property
    def prompts_folder(self) -> Path:
        """Where the library reads this repository's prompt files."""
        return self.checkout / self.source.path if self.source.path else self.checkout

    def sync(self) -> SyncResult:
        """Clone or update the checkout; on failure keep the last good one. Blocking."""
        try:
            if not (self.checkout / ".git").exists() or self._origin() != self.source.url:
                self._clone()  # none yet, or another repository's: replaced once the clone works
                action = "cloned"
            else:
                before = self._head()
                self._git("fetch", "--depth", "1", "origin", self.source.branch, cwd=self.checkout)
                self._git("reset", "--hard", "FETCH_HEAD", cwd=self.checkout)
                action = "up to date" if self._head() == before else "updated"
        except (_GitFailed, OSError) as exc:  # OSError: the data folder refused the checkout
            commit = self._head_or_none()
            kept = f"; keeping {commit[:12]}" if commit else "; no earlier checkout to keep"
            message = f"git sync of {self._label()} failed: {exc}{kept}"
            log.warning("%s", message)
            return SyncResult(False, commit, message)
        commit = self._head()
        if action != "up to date":
            log.info("prompts %s from %s at %s", action, self._label(), commit[:12])
        return SyncResult(True, commit, f"{action}: {self._label()} at {commit[:12]}")

    async def run_periodically(self, stop: asyncio.Event) -> None:
        """Sync now and then every ``interval_s`` until ``stop`` (a task of the server's TaskSet)."""
        while not stop.is_set():
            await asyncio.to_thread(self.sync)
            try:
                await asyncio.wait_for(stop.wait(), self.source.interval_s)
            except TimeoutError:
                pass

    def _clone(self) -> None:
        self.checkout.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.checkout.parent))
        try:
            self._git(
                "clone", "--quiet", "--depth", "1", "--single-branch",
                "--branch", self.source.branch, "--", self.source.url, str(tmp),
            )  # fmt: skip
            if self.checkout.exists():
                shutil.rmtree(self.checkout)
            tmp.rename(self.checkout)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _origin(self) -> str:
        return self._git("remote", "get-url", "origin", cwd=self.checkout).strip()

    def _head(self) -> str:
        return self._git("rev-parse", "HEAD", cwd=self.checkout).strip()

    def _head_or_none(self) -> str | None:
        if not (self.checkout / ".git").exists():
            return None
        try:
            return self._head()
        except _GitFailed:
            return None

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                timeout=GIT_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise _GitFailed("git is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise _GitFailed(f"git {args[0]} took over {GIT_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise _GitFailed(f"git {args[0]}: {self._scrub(detail)}")
        return done.stdout

    def _label(self) -> str:
        return f"{self._scrub(self.source.url)} ({self.source.branch})"

    def _scrub(self, text: str) -> str:
        """No password or token of the URL in a message: ``https://user:secret@host`` → ``host``."""
        url = self.source.url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            text = text.replace(url, f"{scheme}://{rest.rsplit('@', 1)[1]}")
        return redact_text(text)


class _GitFailed(Exception):
    pass
