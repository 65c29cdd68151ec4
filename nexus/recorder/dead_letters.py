"""Poison records: the recorder's side of the dead-letter rule, the sole owner of it.

A record that cannot be derived, or that the store refuses for any reason but being unavailable,
is tried a few times, then set aside with its error and its exact spool frame
(``DeadLetterStore``), and the recorder moves on: nothing a client sends can stop the recording
of the calls that follow. "Store unavailable" is another matter: the writer waits for the store
and retries forever, losing nothing. ``retry_dead_letters`` (``nexus db retry-dead-letters``)
tries the set-aside records again, after a fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from nexus.errors import StoreUnavailable
from nexus.recorder.derive import derive
from nexus.recorder.spool import decode_all, encode
from nexus.records import Exchange, RequestRecord, now_ms
from nexus.store.base import DeadLetter, DeadLetterStage, Store
from nexus.wire import ValueMemory

if TYPE_CHECKING:
    from nexus.store.base import DeadLetterStore
    from nexus.usage.cost import CostFunction

log = logging.getLogger("nexus.writer")
SPILL_FOLDER = "dead-letters"  # in the data folder: frames even the dead-letter table refused
STORE_ATTEMPTS = 3  # a store error that is not an outage: tried this often, then set aside
_VERBS = {"derive": "derived", "store": "stored", "crash": "processed"}


@dataclass(frozen=True, slots=True)
class Poison:
    exchange: Exchange
    stage: DeadLetterStage
    error: BaseException
    attempts: int


def derive_all(
    exchanges: Sequence[Exchange], cost: CostFunction | None, memory: ValueMemory | None = None
) -> tuple[list[RequestRecord], list[Poison]]:
    """Records of the exchanges that derive; the others as poison. Deriving is pure (the same
    bytes fail the same way), so one attempt says all."""
    records: list[RequestRecord] = []
    poison: list[Poison] = []
    for exchange in exchanges:
        try:
            records.append(derive(exchange, cost, memory))
        except Exception as exc:  # whatever a hostile body does to the parsers: set it aside
            poison.append(Poison(exchange, "derive", exc, 1))
    return records, poison


async def store_one_by_one(
    store: Store, records: Sequence[RequestRecord], attempts: int = STORE_ATTEMPTS
) -> tuple[list[RequestRecord], list[Poison]]:
    """Write each record alone, ``attempts`` times at most: (stored, poison). An outage
    (``StoreUnavailable``) propagates: the caller waits for the store and tries the batch again."""
    stored: list[RequestRecord] = []
    poison: list[Poison] = []
    for record in records:
        error: BaseException | None = None
        for _ in range(attempts):
            try:
                await store.write_batch([record])
            except StoreUnavailable:
                raise
            except Exception as exc:  # the store refused this record; maybe only once
                error = exc
                continue
            error = None
            break
        if error is None:
            stored.append(record)
        else:
            poison.append(Poison(record.exchange, "store", error, attempts))
    return stored, poison


async def dead_letter(
    store: DeadLetterStore, poison: Sequence[Poison], spill_dir: Path | None = None
) -> None:
    """Set each poison record aside with its error (an outage propagates: nothing is dropped). If
    the store refuses even the dead letter, its frame goes to a file in ``spill_dir``."""
    for item in poison:
        error = describe(item.error)
        log.error("record %s could not be %s after %d attempt(s) and is set aside as a dead "
                  "letter (nexus db dead-letters): %s", item.exchange.id,
                  _VERBS[item.stage], item.attempts,
                  error)  # fmt: skip
        frame = encode(item.exchange)
        letter = DeadLetter(
            id=item.exchange.id,
            failed_at_ms=now_ms(),
            attempts=item.attempts,
            stage=item.stage,
            error=error,
            frame_bytes=len(frame),
        )
        try:
            await store.add_dead_letter(letter, frame)
        except StoreUnavailable:
            raise
        except Exception:
            if spill_dir is None:
                raise
            path = spill(spill_dir, item.exchange.id, frame)
            log.exception("record %s could not be set aside in the store either; its frame is "
                          "in %s", item.exchange.id, path)  # fmt: skip


def spill(directory: Path, exchange_id: str, frame: bytes) -> Path:
    """Write a dead letter's frame to ``<directory>/<id>.nxs`` (mode 0600), beside the store."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{exchange_id}.nxs"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def describe(exc: BaseException) -> str:
    """One line naming the error, safe for any text column (a message may quote hostile bytes)."""
    text = f"{type(exc).__name__}: {exc}".replace("\x00", "\\0")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:2000]


@dataclass(slots=True)
class RetryResult:
    stored: int = 0
    failed: int = 0


async def retry_dead_letters(
    store: Store,
    cost: CostFunction | None = None,
    on_stored: Callable[[Sequence[RequestRecord]], Awaitable[object]] | None = None,
    spill_dir: Path | None = None,
) -> RetryResult:
    """Derive and store every dead letter again (those in the store, then the frames spilled to
    files in ``spill_dir``); those that now succeed are removed, the others stay in the store with
    their new error and one more attempt counted."""
    letters: DeadLetterStore = store  # type: ignore[assignment]
    result = RetryResult()
    for letter in await letters.list_dead_letters():
        frame = await letters.dead_letter_frame(letter.id)
        if await _retry_frame(store, frame or b"", letter.id, cost, on_stored) == "stored":
            await letters.remove_dead_letter(letter.id)
            result.stored += 1
        else:
            result.failed += 1
    for path in sorted(spill_dir.glob("*.nxs")) if spill_dir and spill_dir.is_dir() else ():
        outcome = await _retry_frame(store, path.read_bytes(), path.stem, cost, on_stored)
        result.stored += outcome == "stored"
        result.failed += outcome != "stored"
        if outcome != "unreadable":
            path.unlink()  # stored, or a dead letter in the store now
    return result


async def _retry_frame(
    store: Store,
    frame: bytes,
    letter_id: str,
    cost: CostFunction | None,
    on_stored: Callable[[Sequence[RequestRecord]], Awaitable[object]] | None,
) -> Literal["stored", "dead", "unreadable"]:
    """Whether the frame's record is now stored, or (again) a dead letter in the store."""
    exchanges = decode_all(frame)
    if not exchanges:
        log.error("dead letter %s holds no readable frame; left as it is", letter_id)
        return "unreadable"
    records, poison = derive_all(exchanges, cost)
    if records:
        records, failed = await store_one_by_one(store, records, attempts=1)
        poison += failed
    if poison:
        await dead_letter(store, poison)  # type: ignore[arg-type]
        return "dead"
    if on_stored is not None:
        await on_stored(records)
    return "stored"
