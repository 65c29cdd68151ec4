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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexus.errors import StoreUnavailable
from nexus.recorder.derive import CostFn, derive
from nexus.recorder.spool import decode_all, encode
from nexus.records import Exchange, RequestRecord, now_ms
from nexus.store.base import DeadLetter, DeadLetterStage, Store

if TYPE_CHECKING:
    from nexus.store.base import DeadLetterStore

log = logging.getLogger("nexus.writer")
STORE_ATTEMPTS = 3  # a store error that is not an outage: tried this often, then set aside


@dataclass(frozen=True, slots=True)
class Poison:
    exchange: Exchange
    stage: DeadLetterStage
    error: BaseException
    attempts: int


def derive_all(
    exchanges: Sequence[Exchange], cost: CostFn | None
) -> tuple[list[RequestRecord], list[Poison]]:
    """Records of the exchanges that derive; the others as poison. Deriving is pure (the same
    bytes fail the same way), so one attempt says all."""
    records: list[RequestRecord] = []
    poison: list[Poison] = []
    for exchange in exchanges:
        try:
            records.append(derive(exchange, cost))
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


async def dead_letter(store: DeadLetterStore, poison: Sequence[Poison]) -> None:
    """Set each poison record aside with its error (an outage propagates: nothing is dropped)."""
    for item in poison:
        error = describe(item.error)
        log.error("record %s could not be %s after %d attempt(s) and is set aside as a dead "
                  "letter (nexus db dead-letters): %s", item.exchange.id,
                  "derived" if item.stage == "derive" else "stored", item.attempts,
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
        await store.add_dead_letter(letter, frame)


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
    cost: CostFn | None = None,
    on_stored: Callable[[Sequence[RequestRecord]], Awaitable[object]] | None = None,
) -> RetryResult:
    """Derive and store every dead letter again; those that now succeed are removed, the others
    stay with their new error and one more attempt counted."""
    letters: DeadLetterStore = store  # type: ignore[assignment]
    result = RetryResult()
    for letter in await letters.list_dead_letters():
        frame = await letters.dead_letter_frame(letter.id)
        exchanges = decode_all(frame or b"")
        if not exchanges:
            log.error("dead letter %s holds no readable frame; left as it is", letter.id)
            result.failed += 1
            continue
        records, poison = derive_all(exchanges, cost)
        if records:
            records, failed = await store_one_by_one(store, records, attempts=1)
            poison += failed
        if poison:
            await dead_letter(letters, poison)
            result.failed += 1
            continue
        await letters.remove_dead_letter(letter.id)
        result.stored += 1
        if on_stored is not None:
            await on_stored(records)
    return result
