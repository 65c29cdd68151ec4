"""Spool folders left behind by runs that are gone (a crash, ``kill -9``, a restart on another
port): found, locked for this recorder, stored before its own folder, then removed.

A folder is an orphan when neither its proxy (``.lock``) nor a recorder (``.recorder.lock``) holds
it and it belongs to this recorder's database; folders of other databases are left to theirs.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nexus.recorder.follow import SpoolFollower
from nexus.recorder.spool import SpoolBusy, database_of, lock, segment_numbers


@dataclass
class Adopted:
    """A folder left by a run that is gone: its two locks are held until it is written and removed."""

    follower: SpoolFollower
    lock_fds: list[int] = field(default_factory=list)

    def remove(self) -> None:
        for fd in self.lock_fds:
            os.close(fd)
        self.lock_fds.clear()
        directory = self.follower.directory
        if not any(p.suffix == ".spool" for p in directory.iterdir()):
            shutil.rmtree(directory, ignore_errors=True)


def adopt_orphans(root: Path, own: Path, database_id: str) -> list[Adopted]:
    """Spool folders of database ``database_id`` under ``root`` that no proxy and no recorder
    holds, locked for this process. Folders of other databases are left to their own recorders."""
    if not root.exists():
        return []
    found = []
    folders = (p for p in root.iterdir() if p.is_dir() and p != own)
    for folder in sorted(p for p in folders if database_of(p) == database_id):
        fds: list[int] = []
        try:
            fds.append(lock(folder / ".lock"))
            fds.append(lock(folder / ".recorder.lock"))
        except SpoolBusy:
            for fd in fds:
                os.close(fd)
            continue
        numbers = segment_numbers(folder)  # we hold its lock: nothing appends there any more
        found.append(Adopted(SpoolFollower(folder, final=numbers[-1] if numbers else 0), fds))
    return found
