"""Dead letters and the database's identity (recorder area), one class for both dialects.

A dead letter is a record the recorder could not derive or store after a few attempts: its spool
frame is kept here, compressed, with the error, so nothing a client sends can stop the recorder
and nothing is thrown away (``nexus db dead-letters`` lists them, ``nexus db retry-dead-letters``
tries them again). The identity is a random id made by the migration that created these tables:
spool folders are named after it, so a recorder stores only the folders of its own database.
"""

from __future__ import annotations

from nexus.store.base import DeadLetter
from nexus.store.connector import Area
from nexus.store.rows import compress, decompress

_ERROR_CHARS = 2000


class DeadLetters(Area):
    async def add_dead_letter(self, letter: DeadLetter, frame: bytes) -> None:
        codec, data = compress(frame)
        await self.db.execute(
            self.q["dead_letter_upsert"],
            {"id": letter.id, "failed_at_ms": letter.failed_at_ms, "attempts": letter.attempts,
             "stage": letter.stage, "error": letter.error[:_ERROR_CHARS],
             "frame_bytes": letter.frame_bytes, "codec": codec, "frame": data},
        )  # fmt: skip

    async def list_dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        rows = await self.db.fetchall(self.q["dead_letters_list"], {"limit": limit})
        return [
            DeadLetter(
                id=r["id"],
                failed_at_ms=int(r["failed_at_ms"]),
                attempts=int(r["attempts"]),
                stage=r["stage"],
                error=r["error"],
                frame_bytes=int(r["frame_bytes"]),
            )
            for r in rows
        ]

    async def dead_letter_frame(self, letter_id: str) -> bytes | None:
        row = await self.db.fetchone(self.q["dead_letter_frame"], {"id": letter_id})
        return None if row is None else decompress(int(row["codec"]), row["frame"])

    async def remove_dead_letter(self, letter_id: str) -> None:
        await self.db.execute(self.q["dead_letter_delete"], {"id": letter_id})

    async def dead_letter_count(self) -> int:
        row = await self.db.fetchone(self.q["dead_letters_count"], {})
        return int(row["letters"]) if row else 0

    async def database_id(self) -> str:
        row = await self.db.fetchone(self.q["database_identity"], {})
        assert row is not None, "migration 0006 makes the identity row"
        return str(row["id"])
