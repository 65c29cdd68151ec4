"""The spool: an append-only log of every exchange, written before the client sees the end of its
response, so a crash, a kill -9 or a database outage loses no record. The sole owner of that promise.

Exchanges go to numbered segment files in ``<data dir>/spool/``. Appending is one buffered
``write`` (the page cache survives a killed process; ``sync`` fsyncs, and the writer calls it while
the database is failing). A segment whose records are all in the database is deleted. Whatever is
left at start-up, or after an outage, is replayed: store writes are idempotent by id, so a record
replayed twice is still one row.

Frame: ``NXS1 <header JSON>\\n<request body><response body>\\n`` where the header holds every
Exchange field but the bodies, plus their lengths. A torn frame at the end of a file (the process
died mid-write, before the client was answered) is ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from nexus.errors import ConfigError
from nexus.records import Exchange, Outcome

log = logging.getLogger("nexus.spool")
_MAGIC = b"NXS1 "
# A replay holds one segment and a copy of its bodies in memory: 8 MB keeps peak RSS under load
# below 200 MB (benchmarks/README.md: 223 MB with 32 MB segments, 182 MB with 8 MB).
_SEGMENT_BYTES = 8 * 1024 * 1024


def encode(exchange: Exchange) -> bytes:
    header = {
        f.name: getattr(exchange, f.name)
        for f in dataclasses.fields(exchange)
        if f.name not in ("request_body", "response_body")
    }
    header["request_len"] = len(exchange.request_body)
    header["response_len"] = len(exchange.response_body)
    return b"".join(
        (_MAGIC, orjson.dumps(header), b"\n", exchange.request_body, exchange.response_body, b"\n")
    )


def decode_all(data: bytes) -> Iterator[Exchange]:
    """Every whole frame in ``data``; stops quietly at a torn or corrupt tail."""
    pos = 0
    while pos < len(data):
        if not data.startswith(_MAGIC, pos):
            log.warning("spool: unreadable bytes at offset %d, rest of the file skipped", pos)
            return
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            return
        try:
            header = orjson.loads(data[pos + len(_MAGIC) : line_end])
        except orjson.JSONDecodeError:
            return
        req_len, resp_len = header.pop("request_len"), header.pop("response_len")
        body_start = line_end + 1
        end = body_start + req_len + resp_len
        if end + 1 > len(data) or data[end : end + 1] != b"\n":
            return
        header["request_headers"] = tuple(tuple(h) for h in header["request_headers"])
        header["response_headers"] = tuple(tuple(h) for h in header["response_headers"])
        header["outcome"] = Outcome(header["outcome"])
        yield Exchange(
            request_body=data[body_start : body_start + req_len],
            response_body=data[body_start + req_len : end],
            **header,
        )
        pos = end + 1


@dataclass(slots=True)
class _Segment:
    number: int
    path: Path
    appended: int = 0
    committed: int = 0
    size: int = 0
    needs_replay: bool = False  # some records are only on disk (queue overflow or a failed write)
    synced: bool = False  # a closed segment fsync'd once stays synced: nothing appends to it


@dataclass(slots=True)
class SpoolStats:
    segments: int
    pending_records: int
    bytes: int


@dataclass
class Spool:
    """Segmented append-only log of exchanges. ``append`` is safe to call from the event loop."""

    directory: Path
    segment_bytes: int = _SEGMENT_BYTES
    _segments: dict[int, _Segment] = field(default_factory=dict)
    _current: _Segment | None = None
    _file: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _lock(self.directory)
        self._recovered = sorted(self._numbers())
        next_number = (self._recovered[-1] + 1) if self._recovered else 1
        for number in self._recovered:
            path = self._path(number)
            self._segments[number] = _Segment(number, path, size=path.stat().st_size,
                                              needs_replay=True, appended=1)  # fmt: skip
        self._open_segment(next_number)

    def _numbers(self) -> list[int]:
        return [int(p.stem) for p in self.directory.glob("*.spool") if p.stem.isdigit()]

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}.spool"

    def _open_segment(self, number: int) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
        segment = _Segment(number, self._path(number))
        self._segments[number] = segment
        self._current = segment
        self._file = open(segment.path, "ab")  # noqa: SIM115 - kept open for appends

    def append(self, exchange: Exchange) -> int:
        """Write one exchange; returns the segment number the writer must acknowledge."""
        frame = encode(exchange)
        with self._lock:
            assert self._current is not None
            if self._current.size >= self.segment_bytes:
                self._open_segment(self._current.number + 1)
                assert self._current is not None
            self._file.write(frame)  # type: ignore[attr-defined]
            self._file.flush()  # type: ignore[attr-defined]
            self._current.appended += 1
            self._current.size += len(frame)
            return self._current.number

    def sync(self) -> None:
        """fsync the current segment and every closed one that waits for replay (called while the
        database is failing, and at shutdown): a segment rolled over mid-outage is the only copy."""
        with self._lock:
            if self._file is not None:
                os.fsync(self._file.fileno())  # type: ignore[attr-defined]
            for seg in self._segments.values():
                if seg is self._current or seg.synced or not seg.needs_replay:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    fd = os.open(seg.path, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                seg.synced = True

    def mark_needs_replay(self, segment: int) -> None:
        with self._lock:
            if seg := self._segments.get(segment):
                seg.needs_replay = True

    def committed(self, segments: list[int]) -> None:
        """The writer stored one record from each listed segment (one entry per record)."""
        with self._lock:
            for number in segments:
                if seg := self._segments.get(number):
                    seg.committed += 1
            self._collect()

    def _collect(self) -> None:
        for seg in list(self._segments.values()):
            if seg is self._current or seg.needs_replay or seg.committed < seg.appended:
                continue
            seg.path.unlink(missing_ok=True)
            del self._segments[seg.number]

    def replayable(self) -> list[int]:
        """Segments whose records must be read back from disk, oldest first."""
        with self._lock:
            return sorted(n for n, s in self._segments.items() if s.needs_replay)

    def read(self, segment: int) -> list[Exchange]:
        with self._lock:
            if segment == (self._current.number if self._current else None):
                # Replaying the live segment: roll over so its file stops growing.
                self._open_segment(segment + 1)
            path = self._path(segment)
        return list(decode_all(path.read_bytes())) if path.exists() else []

    def replayed(self, segment: int) -> None:
        """Every record of a segment is in the database: drop it."""
        with self._lock:
            seg = self._segments.pop(segment, None)
            if seg is not None:
                seg.path.unlink(missing_ok=True)

    def stats(self) -> SpoolStats:
        with self._lock:
            pending = sum(max(s.appended - s.committed, 0) for s in self._segments.values())
            size = sum(s.size for s in self._segments.values())
            return SpoolStats(len(self._segments), pending, size)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()  # type: ignore[attr-defined]
                os.fsync(self._file.fileno())  # type: ignore[attr-defined]
                self._file.close()  # type: ignore[attr-defined]
                self._file = None
            current = self._current
            if current and not current.needs_replay and current.committed >= current.appended:
                current.path.unlink(missing_ok=True)
                self._segments.pop(current.number, None)
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the descriptor releases the flock
                self._lock_fd = None


class SpoolBusy(ConfigError):
    """Another running Nexus process owns this spool folder."""


def _lock(directory: Path) -> int:
    """Hold an exclusive lock on a spool folder for as long as this process uses it."""
    fd = os.open(directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusy(f"another nexus serve is using {directory}") from None
    return fd


def orphaned_spools(root: Path, own: Path) -> list[Spool]:
    """Spool folders under ``root`` that no running process holds (a previous run on another port,
    or one killed): opened, so their records can be replayed. ``own`` is this process's folder."""
    if not root.exists():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p != own):
        try:
            found.append(Spool(folder))
        except SpoolBusy:
            continue
    return found


def remove_if_empty(spool: Spool) -> None:
    """After replaying an adopted spool: delete its folder once nothing is left in it."""
    spool.close()
    leftovers = [p for p in spool.directory.iterdir() if p.name != ".lock"]
    for path in leftovers:
        if path.suffix == ".spool" and path.stat().st_size == 0:
            path.unlink()
    if not [p for p in spool.directory.iterdir() if p.name != ".lock"]:
        (spool.directory / ".lock").unlink(missing_ok=True)
        spool.directory.rmdir()


def backlog(directory: Path) -> tuple[int, int]:
    """(files, bytes) waiting in a spool folder, for ``nexus db stats`` from another process."""
    if not directory.exists():
        return 0, 0
    files = list(directory.rglob("*.spool"))
    return len(files), sum(f.stat().st_size for f in files)
