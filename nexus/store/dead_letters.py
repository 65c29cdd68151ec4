"""Dead letters and the database's identity, written once for both dialects (recorder area).

A dead letter is a record the recorder could not derive or store after a few attempts: its spool
frame is kept here, compressed, with the error, so nothing a client sends can stop the recorder
and nothing is thrown away (``nexus db dead-letters`` lists them, ``nexus db retry-dead-letters``
tries them again). The identity is a random id made by the migration that created these tables:
spool folders are named after it, so a recorder stores only the folders of its own database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus.store.base import DeadLetter
from nexus.store.rows import compress, decompress

if TYPE_CHECKING:
    from nexus.store.core import CoreMixin as _Base
else:
    _Base = object

_ERROR_CHARS = 2000


class DeadLettersMixin(_Base):
    async def add_dead_letter(self, letter: DeadLetter, frame: bytes) -> None:
        codec, data = compress(frame)
        error = letter.error[:_ERROR_CHARS]
        async with self._transaction() as tx:
            await tx.execute(
                "dead_letter_upsert",
                [letter.id, letter.failed_at_ms, letter.attempts, letter.stage, error,
                 letter.frame_bytes, codec, data],
            )  # fmt: skip

    async def list_dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        rows = await self._fetchall("dead_letters_list", [limit])
        return [
            DeadLetter(
                id=r[0],
                failed_at_ms=int(r[1]),
                attempts=int(r[2]),
                stage=r[3],
                error=r[4],
                frame_bytes=int(r[5]),
            )  # fmt: skip
            for r in rows
        ]

    async def dead_letter_frame(self, letter_id: str) -> bytes | None:
        row = await self._fetchone("dead_letter_frame", [letter_id])
        return None if row is None else decompress(int(row[0]), row[1])

    async def remove_dead_letter(self, letter_id: str) -> None:
        await self._execute("dead_letter_delete", [letter_id])

    async def dead_letter_count(self) -> int:
        row = await self._fetchone("dead_letters_count")
        return int(row[0]) if row else 0

    async def database_id(self) -> str:
        row = await self._fetchone("database_identity")
        assert row is not None, "migration 0006 makes the identity row"
        return str(row[0])
