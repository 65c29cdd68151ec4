"""Records that kill the recorder process itself (a crash in a C extension, the OOM killer): the
sole owner of noticing them. An exception is caught where the record is derived or stored
(``nexus.recorder.dead_letters``); a dead process is not, and a restarted recorder would start
again from the same frame, forever.

So before working on a batch the writer counts the attempt in ``<folder>/.attempt`` (the batch's
position and how many processes began it there). A batch begun ``SINGLE_FROM`` times makes its
span a danger zone, read one frame at a time, so the frame that kills the process is alone; a
frame of the zone begun ``GIVE_UP_AT`` times alone is set aside as a dead letter without being
derived. A clean stop clears the count: only a process that died mid-batch leaves it behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nexus.recorder.spool import Position

FILE = ".attempt"
SINGLE_FROM = 3  # the 3rd process to begin a batch reads its frames one at a time
GIVE_UP_AT = 2  # the 2nd process to begin one of those frames alone sets it aside
_NOWHERE = Position(-1, -1)


class RecorderCrashed(Exception):
    """The recorder process died while it worked on this record, again and again."""


class CrashGuard:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE
        self._at, self._count, self._danger_end = self._load()
        self._fd: int | None = None  # kept open: a count per batch costs one pwrite
        self._length = 0  # the longest text written through it

    def in_danger(self, position: Position) -> bool:
        """Frames from ``position`` on killed processes: read them one at a time."""
        return position < self._danger_end

    def begin(self, start: Position, end: Position) -> int:
        """Count, on disk before the work, one more attempt at the batch from ``start`` to
        ``end``; returns the count. A restarted follower reads its folder from the beginning
        again: frames before the one a process died on were done, and are not attempts (0)."""
        if start <= self._at < end:  # it holds the frame the last process died on
            self._count += 1
        elif end <= self._at:
            return 0
        else:
            self._at, self._count = start, 1
        self._save()
        return self._count

    def enter_danger(self, position: Position, end: Position) -> None:
        """The batch from ``position`` to ``end`` killed processes: its frames go one at a time,
        counted afresh."""
        self._at, self._count, self._danger_end = position, 1, end
        self._save()

    def clear(self) -> None:
        """This process stops cleanly: it crashed on nothing."""
        self._at, self._count, self._danger_end = _NOWHERE, 0, _NOWHERE
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def close(self) -> None:
        """Let go of the file (its folder is about to go, or this process stops)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _save(self) -> None:
        """Write the count over the last one in place. Truncating and rewriting the file per batch
        cost 0.1 ms of CPU and 0.3 ms of wall time (ext4 flushes a file truncated and written
        again when it is closed); a shorter text is padded with spaces instead."""
        values = (*self._at, self._count, *self._danger_end)
        text = " ".join(map(str, values)).encode()
        with contextlib.suppress(OSError):  # a guard that cannot write guards less, no more
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                                   0o600)  # fmt: skip
                self._length = 0
            os.pwrite(self._fd, text.ljust(self._length), 0)
            self._length = max(self._length, len(text))

    def _load(self) -> tuple[Position, int, Position]:
        try:
            segment, offset, count, end_segment, end_offset = map(
                int, self.path.read_text().split()
            )
        except (OSError, ValueError):  # none, or torn by the crash it records
            return _NOWHERE, 0, _NOWHERE
        return Position(segment, offset), count, Position(end_segment, end_offset)
