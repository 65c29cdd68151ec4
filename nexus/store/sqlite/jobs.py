"""Analysis jobs on SQLite: enqueue, claim, finish, retry, fail, requeue stuck, read.

Every state change runs in one write transaction with its ``analysis`` event. Claims are safe
because one statement (``jobs_claim``: an UPDATE whose subquery picks the job, guarded by
``state = 'pending'``) runs on the single writer connection. The Postgres mixin reuses this logic
with its own statements of the same names (``FOR UPDATE SKIP LOCKED`` there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nexus.records import new_id
from nexus.records import now_ms as wall_ms
from nexus.store.base import AnalysisJob, JobState

if TYPE_CHECKING:
    from nexus.store.sqlite.connection import SqliteConnection as _Base
    from nexus.store.sqlite.connection import Tx
else:
    _Base = object

STUCK_MESSAGE = "requeued: its worker stopped before finishing"


class JobsMixin(_Base):
    async def enqueue_analysis(
        self,
        conversation_id: str,
        branch: str,
        prompt_version: str,
        *,
        force: bool = False,
        now_ms: int | None = None,
    ) -> AnalysisJob:
        now = wall_ms() if now_ms is None else now_ms
        key = (conversation_id, branch, prompt_version)
        async with self._transaction() as tx:
            job_id = new_id(now)
            inserted = await tx.fetchone("jobs_insert", (job_id, *key, now, now, now))
            row = await tx.fetchone("jobs_by_key", key)
            assert row is not None
            if inserted:
                await _event(tx, job_id, now)
            elif force and row[4] in (JobState.DONE, JobState.FAILED):
                await tx.fetchone("jobs_rerun", (now, now, row[0]))
                await _event(tx, row[0], now)
                row = await tx.fetchone("jobs_get", (row[0],))
                assert row is not None
        return job_from_row(row)

    async def claim_analysis(
        self, claim_token: str, now_ms: int | None = None
    ) -> AnalysisJob | None:
        now = wall_ms() if now_ms is None else now_ms
        async with self._transaction() as tx:
            row = await tx.fetchone("jobs_claim", (now, claim_token))
            if row is not None:
                await _event(tx, row[0], now)
        return None if row is None else job_from_row(row)

    async def finish_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        result_json: bytes,
        markdown: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        now_ms: int | None = None,
    ) -> bool:
        now = wall_ms() if now_ms is None else now_ms
        params = (
            now,
            model,
            input_tokens,
            output_tokens,
            result_json.decode(),
            markdown,
            job_id,
            claim_token,
        )
        return await self._change(job_id, "jobs_finish", params, now)

    async def retry_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        error: str,
        run_after_ms: int,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        now_ms: int | None = None,
    ) -> bool:
        now = wall_ms() if now_ms is None else now_ms
        params = (run_after_ms, now, error, model, input_tokens, output_tokens, job_id, claim_token)
        return await self._change(job_id, "jobs_retry", params, now)

    async def fail_analysis(
        self,
        job_id: str,
        claim_token: str,
        *,
        error: str,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        now_ms: int | None = None,
    ) -> bool:
        now = wall_ms() if now_ms is None else now_ms
        params = (now, error, model, input_tokens, output_tokens, job_id, claim_token)
        return await self._change(job_id, "jobs_fail", params, now)

    async def requeue_stuck_analyses(
        self, started_before_ms: int, now_ms: int | None = None
    ) -> list[str]:
        now = wall_ms() if now_ms is None else now_ms
        async with self._transaction() as tx:
            rows = await tx.fetchall("jobs_requeue_stuck", (now, STUCK_MESSAGE, started_before_ms))
            for (job_id,) in rows:
                await _event(tx, job_id, now)
        return sorted(row[0] for row in rows)

    async def next_analysis_due_ms(self) -> int | None:
        row = await self._fetchone("jobs_next_due", ())
        return None if row is None or row[0] is None else int(row[0])

    async def get_analysis(self, job_id: str) -> AnalysisJob | None:
        row = await self._fetchone("jobs_get", (job_id,))
        return None if row is None else job_from_row(row)

    async def find_analysis(
        self, conversation_id: str, branch: str, prompt_version: str
    ) -> AnalysisJob | None:
        row = await self._fetchone(
            "jobs_latest_for_branch", (conversation_id, branch, prompt_version)
        )
        return None if row is None else job_from_row(row)

    async def list_analyses(
        self, *, state: JobState | None = None, conversation_id: str | None = None, limit: int = 100
    ) -> list[AnalysisJob]:
        state_value = None if state is None else str(state)
        rows = await self._fetchall("jobs_list", (state_value, conversation_id, limit))
        return [job_from_row(row) for row in rows]

    async def _change(self, job_id: str, query: str, params: tuple[Any, ...], now: int) -> bool:
        async with self._transaction() as tx:
            changed = await tx.fetchone(query, params)  # RETURNING id: a row when it matched
            if changed is not None:
                await _event(tx, job_id, now)
        return changed is not None


async def _event(tx: Tx, job_id: str, now: int) -> None:
    await tx.execute("jobs_event", (job_id, now))


def job_from_row(row: tuple[Any, ...]) -> AnalysisJob:
    """A job from the 18 columns every ``jobs_*`` SELECT returns, in their order."""
    result = row[16]
    return AnalysisJob(
        id=row[0],
        conversation_id=row[1],
        branch=row[2],
        prompt_version=row[3],
        state=JobState(row[4]),
        attempts=int(row[5]),
        created_at_ms=int(row[6]),
        updated_at_ms=int(row[7]),
        run_after_ms=int(row[8]),
        started_at_ms=None if row[9] is None else int(row[9]),
        finished_at_ms=None if row[10] is None else int(row[10]),
        claim_token=row[11],
        error=row[12],
        model=row[13],
        input_tokens=int(row[14]),
        output_tokens=int(row[15]),
        result_json=result.encode() if isinstance(result, str) else result,
        markdown=row[17],
    )
