"""The prompt library: every prompt file of a few folders, kept current while the server runs.

``refresh()`` stats every ``*.yaml`` / ``*.yml`` file (hidden folders such as ``.git`` skipped)
and parses only those whose size, mtime or inode changed; it runs in a worker thread and swaps
the whole name → prompt mapping in one assignment, so a reader on the event loop sees the old or
the new library, never half of each. ``watch()`` calls it about once a second.

A broken file is reported (a log line when its error first appears, ``errors``), and the others
keep serving; a file that was good and is now broken keeps serving its last good version until it
is fixed or deleted. Folders are read in the order given and the first one to define a name wins
(the local folder before the git checkout), so a local file can override a synced one; within a
folder, a second file with a name already taken is an error.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nexus.errors import PromptError
from nexus.prompts.prompt_file import Prompt, load_prompt_file

log = logging.getLogger("nexus.prompts")
POLL_INTERVAL_S = 1.0
_SUFFIXES = (".yaml", ".yml")

Signature = tuple[int, int, int]  # (mtime_ns, size, inode)


@dataclass(slots=True)
class _Entry:
    signature: Signature
    prompt: Prompt | None  # the last good parse of this file (kept while it is broken)
    error: str | None


class PromptLibrary:
    """The prompts of ``folders`` (missing folders are simply empty)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)
        self._entries: dict[Path, _Entry] = {}
        self._prompts: dict[str, Prompt] = {}
        self._errors: dict[Path, str] = {}
        self.generation = 0  # bumped whenever the served prompts or the errors change

    @property
    def prompts(self) -> dict[str, Prompt]:
        """Name → prompt, in name order (a snapshot: safe to keep while the library reloads)."""
        return self._prompts

    @property
    def errors(self) -> dict[Path, str]:
        """Path → what is wrong with it, for every broken file."""
        return self._errors

    def get(self, name: str) -> Prompt | None:
        return self._prompts.get(name)

    def refresh(self) -> bool:
        """Re-read what changed on disk; True when the served prompts or the errors changed.
        Blocking file I/O: call it in a worker thread from the event loop."""
        seen: dict[Path, _Entry] = {}
        changed = False
        for folder in self.folders:
            for path, sig in _prompt_files(folder):
                entry = self._entries.get(path)
                if entry is None or entry.signature != sig:
                    entry = _load(path, sig, entry)
                    changed = True
                seen[path] = entry
        if set(seen) != set(self._entries):
            changed = True
        self._entries = seen
        if not changed:
            return False
        prompts, errors = self._assemble()
        if prompts == self._prompts and errors == self._errors:
            return False
        for path, message in errors.items():
            if self._errors.get(path) != message:
                log.warning("prompt file %s", message)
        old = set(self._prompts)
        self._prompts, self._errors = prompts, errors
        self.generation += 1
        log.info(
            "prompt library: %d prompts (%d added, %d removed), %d broken files",
            len(prompts),
            len(set(prompts) - old),
            len(old - set(prompts)),
            len(errors),
        )
        return True

    def _assemble(self) -> tuple[dict[str, Prompt], dict[Path, str]]:
        prompts: dict[str, Prompt] = {}
        errors: dict[Path, str] = {}
        owner_folder: dict[str, Path] = {}
        for folder in self.folders:
            for path in sorted(p for p in self._entries if _under(p, folder)):
                entry = self._entries[path]
                if entry.error is not None:
                    kept = " (its last good version is still served)" if entry.prompt else ""
                    errors[path] = entry.error + kept
                prompt = entry.prompt
                if prompt is None:
                    continue
                if prompt.name in prompts:
                    if owner_folder[prompt.name] == folder:
                        other = prompts[prompt.name].path
                        errors[path] = (
                            f"{path}: the name {prompt.name!r} is already used by {other}"
                        )
                    continue  # an earlier folder overrides this one
                prompts[prompt.name] = prompt
                owner_folder[prompt.name] = folder
        return dict(sorted(prompts.items())), errors

    async def watch(self, stop: asyncio.Event, interval_s: float = POLL_INTERVAL_S) -> None:
        """Refresh every ``interval_s`` until ``stop`` is set (a task of the server's TaskSet)."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except OSError as exc:  # a folder vanished mid-scan: the next round sees it settled
                log.warning("prompt library: %s", exc)
            except Exception:  # the top of this task: the prompts already loaded keep serving
                log.exception("prompt library: reloading failed; the loaded prompts still serve")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass


def _load(path: Path, sig: Signature, previous: _Entry | None) -> _Entry:
    try:
        return _Entry(sig, load_prompt_file(path), None)
    except PromptError as exc:
        last_good = previous.prompt if previous is not None else None
        return _Entry(sig, last_good, exc.message)


def _prompt_files(folder: Path) -> list[tuple[Path, Signature]]:
    found: list[tuple[Path, Signature]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(_SUFFIXES):
                continue
            path = Path(root) / name
            try:
                st = path.stat()
            except OSError:  # removed between listing and stat
                continue
            found.append((path, (st.st_mtime_ns, st.st_size, st.st_ino)))
    return found


def _under(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder)
