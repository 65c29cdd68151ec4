"""The spool: an append-only log of every exchange, written before the client sees the end of its
response, so a crash, a kill -9 or a database outage loses no record. The sole owner of that promise.

The proxy process appends (``Spool``); the recorder process reads the same files back in order
(``nexus.recorder.follow``), stores them and deletes each segment once every record in it is in the
database. Appending is one ``writev`` per exchange: the page cache survives a killed process, and
the recorder fsyncs what waits while the database is failing. Store writes are idempotent by id, so
a record read twice (a restart between storing and deleting) is still one row.

Frame: ``NXS1 <header JSON>\\n<request body><response body>\\n`` where the header holds every
Exchange field but the bodies, plus their lengths. A torn frame at the end of a file (the process
died mid-write, before the client was answered) is ignored.

Locks: a proxy holds ``<folder>/.lock`` while it appends there; a recorder holds
``<folder>/.recorder.lock`` while it reads there. A folder whose ``.lock`` is free is an orphan (a
previous run on another port, or one killed) that a recorder may adopt — only a recorder of the
same database: a folder is named ``<port>-<database id>`` (``folder_name``), so records never land
in another database, and a folder of a database that is gone never stops anyone else's recorder.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from nexus.errors import ConfigError
from nexus.records import Exchange, Outcome

MAGIC = b"NXS1 "
SUFFIX = ".spool"
# The recorder reads one batch at a time, so the segment size bounds only the disk a slow
# recorder leaves behind between deletions, and the rollover cost (one open) per segment.
_SEGMENT_BYTES = 8 * 1024 * 1024
_BODY_FIELDS = ("request_body", "response_body")


class Position(NamedTuple):
    """A place in a spool folder: segment number and byte offset; tuples order them."""

    segment: int
    offset: int


def _header(exchange: Exchange) -> bytes:
    header: dict[str, Any] = {name: getattr(exchange, name) for name in _HEADER_FIELDS}
    header["request_len"] = len(exchange.request_body)
    header["response_len"] = len(exchange.response_body)
    return MAGIC + orjson.dumps(header) + b"\n"


def encode(exchange: Exchange) -> bytes:
    return b"".join((_header(exchange), exchange.request_body, exchange.response_body, b"\n"))


def read_frames(file: BinaryIO, max_items: int, max_bytes: int) -> tuple[list[Exchange], int, bool]:
    """Whole frames from the file's position: up to ``max_items`` (at least one, else up to
    ``max_bytes`` of bodies). Returns (exchanges, bytes consumed, stopped at bad bytes); a frame
    cut short is not consumed: it may still be being written, or it was torn by a kill."""
    out: list[Exchange] = []
    consumed = taken = 0
    while len(out) < max_items and (not out or taken < max_bytes):
        line = file.readline()
        if not line.endswith(b"\n"):
            return out, consumed, bool(line)  # nothing more yet, or a torn header
        parsed = _parse_header(line[:-1])
        if parsed is None:
            return out, consumed, True
        header, req_len, resp_len = parsed
        bodies = file.read(req_len + resp_len + 1)
        if len(bodies) < req_len + resp_len + 1 or bodies[-1:] != b"\n":
            return out, consumed, True
        view = memoryview(bodies)
        try:
            exchange = _make_exchange(
                header, bytes(view[:req_len]), bytes(view[req_len : req_len + resp_len])
            )
        except (KeyError, TypeError, ValueError):  # a header this version cannot read
            return out, consumed, True
        out.append(exchange)
        taken += req_len + resp_len
        consumed += len(line) + len(bodies)
    return out, consumed, False


def decode_all(data: bytes) -> list[Exchange]:
    """Every whole frame in ``data``; stops quietly at a torn or corrupt tail."""
    return read_frames(io.BytesIO(data), sys.maxsize, sys.maxsize)[0]


def _parse_header(line: bytes) -> tuple[dict[str, Any], int, int] | None:
    if not line.startswith(MAGIC):
        return None
    try:
        header = orjson.loads(line[len(MAGIC) :])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(header, dict):
        return None
    request_len, response_len = header.pop("request_len", None), header.pop("response_len", None)
    if not isinstance(request_len, int) or not isinstance(response_len, int):
        return None
    if request_len < 0 or response_len < 0:
        return None
    return header, request_len, response_len


def _make_exchange(header: dict[str, Any], request_body: bytes, response_body: bytes) -> Exchange:
    # A field another Nexus version wrote and this one does not know is left out.
    header = {k: v for k, v in header.items() if k in _HEADER_FIELD_SET}
    header["request_headers"] = tuple(tuple(h) for h in header["request_headers"])
    header["response_headers"] = tuple(tuple(h) for h in header["response_headers"])
    header["outcome"] = Outcome(header["outcome"])
    header["limit_scopes"] = tuple(header.get("limit_scopes", ()))
    return Exchange(request_body=request_body, response_body=response_body, **header)


def folder_name(port: int, database_id: str) -> str:
    """The spool folder of a proxy port writing to one database (``Store.database_id``)."""
    return f"{port}-{database_id}"


def database_of(folder: Path) -> str | None:
    """The database id a spool folder belongs to; None for a folder of an older Nexus."""
    return folder.name.partition("-")[2] or None


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:012d}{SUFFIX}"


def segment_numbers(directory: Path) -> list[int]:
    """The segments in a folder, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(
        int(name[: -len(SUFFIX)])
        for name in names
        if name.endswith(SUFFIX) and name[: -len(SUFFIX)].isdigit()
    )


class Spool:
    """The proxy's side: appends exchanges to numbered segment files in one folder it locks.
    ``append`` is safe to call from the event loop (one ``writev``, no fsync)."""

    def __init__(self, directory: Path, *, segment_bytes: int = _SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = lock(directory / ".lock")
        numbers = segment_numbers(directory)
        self._lock = threading.Lock()
        self._fd: int | None = None  # None after a failure: the next append opens a new segment
        self._closed = False
        self._segment = 0
        self._size = 0
        self._open_segment((numbers[-1] + 1) if numbers else 1)

    def _open_segment(self, number: int) -> None:
        if self._fd is not None:
            # Forget the descriptor before anything can fail: closed twice, its number may by
            # then belong to a client's socket (uvloop aborts the process on that).
            fd, self._fd = self._fd, None
            os.close(fd)
        path = segment_path(self.directory, number)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._segment, self._size = number, 0

    def append(self, exchange: Exchange) -> Position:
        """Write one exchange; returns the position just after it. On ``OSError`` (a full disk, a
        segment that cannot be created) nothing of it stays in the spool: a later append starts
        on a clean frame boundary, so no torn frame ever hides the frames after it."""
        parts = [_header(exchange), exchange.request_body, exchange.response_body, b"\n"]
        length = sum(map(len, parts))
        with self._lock:
            if self._closed:
                raise OSError("the spool is closed")
            if self._fd is None or self._size >= self.segment_bytes:
                self._open_segment(self._segment + 1)
            assert self._fd is not None
            try:
                _write_all(self._fd, parts, length)
            except OSError:
                self._cut_torn_frame()
                raise
            self._size += length
            return Position(self._segment, self._size)

    def _cut_torn_frame(self) -> None:
        """A write stopped part-way: cut the segment back to its last whole frame. If even that
        fails, append nothing more to this segment (the reader skips a torn frame at the end of a
        segment, never in the middle)."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            fd, self._fd = self._fd, None
            os.close(fd)

    def position(self) -> Position:
        """Where the next exchange will go: everything before it has been appended."""
        with self._lock:
            return Position(self._segment, self._size)

    def close(self) -> Position:
        """fsync and stop appending; the folder's lock is released. Returns the final position."""
        with self._lock:
            self._closed = True
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the descriptor releases the flock
                self._lock_fd = None
            return Position(self._segment, self._size)


def _write_all(fd: int, parts: list[bytes], length: int) -> None:
    written = os.writev(fd, parts)
    if written == length:
        return
    rest = b"".join(parts)[written:]  # a short write (a full disk, a signal): finish it
    view = memoryview(rest)
    while view:
        view = view[os.write(fd, view) :]


class SpoolBusy(ConfigError):
    """Another running Nexus process owns this spool folder."""


def lock(path: Path, *, wait: bool = False) -> int:
    """Hold an exclusive flock on ``path`` for as long as the returned descriptor stays open."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusy(f"another nexus serve is using {path.parent}") from None
    return fd


def sync_folder(directory: Path) -> None:
    """fsync every segment of a folder: while the database fails, they are the only copy."""
    for number in segment_numbers(directory):
        try:
            fd = os.open(segment_path(directory, number), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def live_segments(root: Path) -> tuple[int, int]:
    """(files, bytes) of the segments running proxies append to right now: the newest segment of
    each folder under ``root`` whose ``.lock`` a proxy holds (in a folder a recorder adopted, that
    recorder holds ``.lock`` and ``.recorder.lock`` both: all of it waits). Read from /proc/locks,
    so looking never takes a lock a starting server needs; where there is none, (0, 0)."""
    try:
        locks = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return 0, 0
    held: dict[tuple[str, str], str] = {}  # (device, inode) → pid holding an flock on it
    for line in locks:
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK":
            device, inode = fields[5].rsplit(":", 1)
            held[(device, inode)] = fields[4]
    files = size = 0
    for folder in root.iterdir() if root.is_dir() else ():
        proxy = _holder(folder / ".lock", held)
        if proxy is None or proxy == _holder(folder / ".recorder.lock", held):
            continue
        numbers = segment_numbers(folder)
        if numbers:
            with contextlib.suppress(FileNotFoundError):
                size += segment_path(folder, numbers[-1]).stat().st_size
                files += 1
    return files, size


def _holder(path: Path, held: dict[tuple[str, str], str]) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return held.get((f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}", str(st.st_ino)))


def backlog(directory: Path) -> tuple[int, int]:
    """(files, bytes) waiting in a spool folder, for ``nexus db stats`` from another process."""
    if not directory.exists():
        return 0, 0
    files = list(directory.rglob("*" + SUFFIX))
    return len(files), sum(f.stat().st_size for f in files)


_HEADER_FIELDS = tuple(name for name in Exchange.__dataclass_fields__ if name not in _BODY_FIELDS)
_HEADER_FIELD_SET = frozenset(_HEADER_FIELDS)
