"""Analysis jobs, one class for both dialects: enqueue, claim, finish, retry, fail, requeue stuck,
read.

Every state change runs in one write transaction with its ``analysis`` event. A claim is one
statement (``jobs_claim``: an UPDATE whose subquery picks the job, guarded by ``state =
'pending'``): on SQLite the single writer connection runs it alone; on Postgres the subquery takes
the row ``FOR UPDATE SKIP LOCKED`` (its ``jobs_claim_lock``), so concurrent workers in any number of
processes never claim the same job and never wait on each other's claims.
"""

from __future__ import annotations

from typing import Any

from nexus.records import new_id
from nexus.records import now_ms as wall_ms
from nexus.store.base import AnalysisJob, JobState
from nexus.store.connector import Area, Row, Tx
from nexus.store.rows import opt_int

STUCK_MESSAGE = "requeued: its worker stopped before finishing"


class Jobs(Area):
    async def enqueue_analysis(
        self,
        conversation_id: str,
        branch: str,
        prompt_version: str,
        *,
        force: bool = False,
        now_ms: int | None = None,
        prompt_name: str | None = None,
        prompt_text: str | None = None,
    ) -> AnalysisJob:
        now = wall_ms() if now_ms is None else now_ms
        key = {
            "conversation_id": conversation_id,
            "branch": branch,
            "prompt_version": prompt_version,
        }
        job_id = new_id(now)
        fresh = {**key, "id": job_id, "now": now, "prompt_name": prompt_name,
                 "prompt_text": prompt_text}  # fmt: skip
        async with self.db.transaction() as tx:
            inserted = await tx.fetchone(self.q["jobs_insert"], fresh)
            row = await tx.fetchone(self.q["jobs_by_key"], key)
            assert row is not None
            if inserted:
                await self._event(tx, job_id, now)
            elif force and row["state"] in (JobState.DONE, JobState.FAILED):
                await tx.fetchone(self.q["jobs_rerun"], {"id": row["id"], "now": now})
                await self._event(tx, row["id"], now)
                row = await tx.fetchone(self.q["jobs_get"], {"id": row["id"]})
                assert row is not None
        return job_from_row(row)

    async def claim_analysis(
        self, claim_token: str, now_ms: int | None = None
    ) -> AnalysisJob | None:
        now = wall_ms() if now_ms is None else now_ms
        async with self.db.transaction() as tx:
            row = await tx.fetchone(self.q["jobs_claim"], {"now": now, "claim_token": claim_token})
            if row is not None:
                await self._event(tx, row["id"], now)
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
        return await self._change(
            "jobs_finish", job_id, claim_token, now_ms, error=None, model=model,
            input_tokens=input_tokens, output_tokens=output_tokens,
            result_json=result_json.decode(), markdown=markdown,
        )  # fmt: skip

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
        return await self._change(
            "jobs_retry", job_id, claim_token, now_ms, error=error, run_after_ms=run_after_ms,
            model=model, input_tokens=input_tokens, output_tokens=output_tokens,
        )  # fmt: skip

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
        return await self._change(
            "jobs_fail", job_id, claim_token, now_ms, error=error, model=model,
            input_tokens=input_tokens, output_tokens=output_tokens,
        )  # fmt: skip

    async def requeue_stuck_analyses(
        self, started_before_ms: int, now_ms: int | None = None
    ) -> list[str]:
        now = wall_ms() if now_ms is None else now_ms
        params = {"now": now, "error": STUCK_MESSAGE, "started_before": started_before_ms}
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(self.q["jobs_requeue_stuck"], params)
            for row in rows:
                await self._event(tx, row["id"], now)
        return sorted(row["id"] for row in rows)

    async def next_analysis_due_ms(self) -> int | None:
        row = await self.db.fetchone(self.q["jobs_next_due"], {})
        return None if row is None or row["due_ms"] is None else int(row["due_ms"])

    async def get_analysis(self, job_id: str) -> AnalysisJob | None:
        row = await self.db.fetchone(self.q["jobs_get"], {"id": job_id})
        return None if row is None else job_from_row(row)

    async def find_analysis(
        self, conversation_id: str, branch: str, prompt_version: str
    ) -> AnalysisJob | None:
        row = await self.db.fetchone(
            self.q["jobs_latest_for_branch"],
            {
                "conversation_id": conversation_id,
                "branch": branch,
                "prompt_version": prompt_version,
            },
        )
        return None if row is None else job_from_row(row)

    async def list_analyses(
        self, *, state: JobState | None = None, conversation_id: str | None = None, limit: int = 100
    ) -> list[AnalysisJob]:
        params = {
            "state": None if state is None else str(state),
            "conversation_id": conversation_id,
            "limit": limit,
        }
        return [job_from_row(row) for row in await self.db.fetchall(self.q["jobs_list"], params)]

    async def _change(
        self, query: str, job_id: str, claim_token: str, now_ms: int | None, **values: Any
    ) -> bool:
        now = wall_ms() if now_ms is None else now_ms
        params = {**values, "id": job_id, "claim_token": claim_token, "now": now}
        async with self.db.transaction() as tx:
            changed = await tx.fetchone(self.q[query], params)  # RETURNING id: a row if it matched
            if changed is not None:
                await self._event(tx, job_id, now)
        return changed is not None

    async def _event(self, tx: Tx, job_id: str, now: int) -> None:
        await tx.execute(self.q["jobs_event"], {"id": job_id, "now": now})


def job_from_row(row: Row) -> AnalysisJob:
    """A job from the columns every ``jobs_*`` SELECT returns (``job_columns`` and the result)."""
    result = row["result_json"]
    return AnalysisJob(
        id=row["id"],
        conversation_id=row["conversation_id"],
        branch=row["branch"],
        prompt_version=row["prompt_version"],
        state=JobState(row["state"]),
        attempts=int(row["attempts"]),
        created_at_ms=int(row["created_at_ms"]),
        updated_at_ms=int(row["updated_at_ms"]),
        run_after_ms=int(row["run_after_ms"]),
        started_at_ms=opt_int(row["started_at_ms"]),
        finished_at_ms=opt_int(row["finished_at_ms"]),
        claim_token=row["claim_token"],
        error=row["error"],
        model=row["model"],
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        result_json=result.encode() if isinstance(result, str) else result,
        markdown=row["markdown"],
        prompt_name=row["prompt_name"],
        prompt_text=row["prompt_text"],
    )
