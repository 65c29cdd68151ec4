"""Reading a spool folder back, in order, while a proxy may still be appending to it.

``SpoolFollower.read`` hands out the next whole frames after the follower's position; ``advance``
moves past them once they are stored. A segment is finished when a newer one exists (the proxy
opens the next file only after its last write to this one) or once the folder is declared final
(the proxy stopped, or the folder was adopted from a run that is gone): then it is deleted, and a
torn frame at its end (a process killed mid-write, before its client was answered) is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from nexus.recorder.spool import (
    MAGIC,
    Position,
    SpoolBusy,
    lock,
    read_frames,
    segment_numbers,
    segment_path,
)
from nexus.records import Exchange

log = logging.getLogger("nexus.spool")


@dataclass(slots=True)
class Batch:
    exchanges: list[Exchange]
    end: Position  # just after the last frame of the batch


@dataclass
class SpoolFollower:
    directory: Path
    position: Position = Position(0, 0)
    final: int | None = None  # segments up to this one get no more appends

    def finish(self) -> None:
        """Our proxy stopped appending here: every segment present now is finished — unless a new
        proxy already holds the folder (a restart right after a kill), whose segment is the newest."""
        numbers = segment_numbers(self.directory)
        final = numbers[-1] if numbers else self.position.segment
        if numbers and _held_by_a_proxy(self.directory):
            final -= 1
        self.final = final

    def read(self, max_items: int, max_bytes: int) -> Batch:
        """Up to ``max_items`` whole frames (at least one, else up to ``max_bytes`` of bodies)
        after the position; an empty batch when there is nothing new yet."""
        while True:
            numbers = [n for n in segment_numbers(self.directory) if n >= self.position.segment]
            if not numbers:
                return Batch([], self.position)
            if numbers[0] != self.position.segment:
                self.position = Position(numbers[0], 0)
            segment = self.position.segment
            # Decided before reading: a newer file exists only after the last write to this one.
            finished = len(numbers) > 1 or (self.final is not None and segment <= self.final)
            exchanges, end, torn = _read_frames(
                segment_path(self.directory, segment), self.position.offset, max_items, max_bytes
            )
            if exchanges:
                return Batch(exchanges, Position(segment, end))
            if not finished:
                return Batch([], self.position)
            if torn:
                resume = _next_whole_frame(segment_path(self.directory, segment), end)
                if resume is not None:
                    # Appends went on after the torn frame (a spool of an older Nexus: the proxy
                    # now cuts a torn frame off): read them, never drop them with the segment.
                    log.error("spool segment %d: a torn frame at byte %d; %d bytes skipped, "
                              "reading on at the next whole frame", segment, end, resume - end)  # fmt: skip
                    self.position = Position(segment, resume)
                    continue
                log.warning("spool segment %d: a torn or unreadable frame at byte %d was skipped",
                            segment, end)  # fmt: skip
            self._delete(segment)
            self.position = Position(segment + 1, 0)

    def advance(self, batch: Batch) -> None:
        """Every frame of ``batch`` is stored."""
        self.position = batch.end

    def _delete(self, segment: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(segment_path(self.directory, segment))


def _held_by_a_proxy(directory: Path) -> bool:
    try:
        os.close(lock(directory / ".lock"))
    except SpoolBusy:
        return True
    except FileNotFoundError:
        return False
    return False


def _next_whole_frame(path: Path, offset: int) -> int | None:
    """Where the first whole frame after a torn one at ``offset`` starts, if any. Only asked of a
    finished segment: while the proxy may still be writing, a frame cut short is not torn."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with file:
        data = file.read()
        start = offset + 1
        while (found := data.find(MAGIC, start)) >= 0:  # torn bytes may end mid-line
            file.seek(found)
            if read_frames(file, 1, 1)[0]:
                return found
            start = found + 1
    return None


def _read_frames(
    path: Path, offset: int, max_items: int, max_bytes: int
) -> tuple[list[Exchange], int, bool]:
    """Whole frames from ``offset``: (exchanges, offset after the last, stopped at bad bytes)."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return [], offset, False
    with file:
        file.seek(offset)
        exchanges, consumed, torn = read_frames(file, max_items, max_bytes)
    return exchanges, offset + consumed, torn
