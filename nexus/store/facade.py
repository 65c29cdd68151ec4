"""``SqlStore``: the one store, composed of areas over a connector; it owns no SQL of its own.

Each area (``jobs.Jobs``, ``dead_letters.DeadLetters`` …) is an object holding the connector and
the dialect's statements; the facade builds them once and hands each call to the area that owns it,
so the ``Store`` protocols' method names stay where the layers above call them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nexus.records import CacheBreakTotal, CacheLedgerEntry, CounterRow, Page, RequestFilter
from nexus.store.alert_sends import AlertSends
from nexus.store.base import AnalysisJob, DeadLetter, JobState, LedgerRow, Position
from nexus.store.cache_ledger import CacheBreaks
from nexus.store.connector import Connector
from nexus.store.dead_letters import DeadLetters
from nexus.store.jobs import Jobs
from nexus.store.limits import LimitCounters


class SqlStore:
    jobs: Jobs
    dead_letters: DeadLetters
    limit_counters: LimitCounters
    alert_sends: AlertSends
    cache_breaks: CacheBreaks

    def _compose(self, db: Connector, q: Mapping[str, str]) -> None:
        self.jobs = Jobs(db, q)
        self.dead_letters = DeadLetters(db, q)
        self.limit_counters = LimitCounters(db, q)
        self.alert_sends = AlertSends(db, q)
        self.cache_breaks = CacheBreaks(db, q)

    async def prune(self, older_than_ms: int) -> int:
        await self.cache_breaks.prune_cache_breaks(older_than_ms)
        return await super().prune(older_than_ms)  # type: ignore[misc, no-any-return]

    # -- cache ledger (cache_ledger.py) ----------------------------------------------------------
    async def cache_neighbours(
        self, conversation_id: str, branch: str, agent_id: str | None, at: Position
    ) -> tuple[str | None, str | None]:
        return await self.cache_breaks.cache_neighbours(conversation_id, branch, agent_id, at)

    async def cache_branch_of(self, request_id: str) -> str | None:
        return await self.cache_breaks.cache_branch_of(request_id)

    async def write_cache_ledger(
        self, checked: Sequence[str], breaks: Sequence[LedgerRow], *, announce: bool = True
    ) -> int:
        return await self.cache_breaks.write_cache_ledger(checked, breaks, announce=announce)

    async def clear_cache_ledger(self) -> None:
        await self.cache_breaks.clear_cache_ledger()

    async def list_cache_breaks(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[CacheLedgerEntry]:
        return await self.cache_breaks.list_cache_breaks(flt, cursor, limit)

    async def cache_break_totals(
        self, flt: RequestFilter, by: str, *, utc_offset_ms: int = 0
    ) -> list[CacheBreakTotal]:
        return await self.cache_breaks.cache_break_totals(flt, by, utc_offset_ms=utc_offset_ms)

    # -- limit counters (limits.py) ----------------------------------------------------------------
    async def add_to_counters(self, rows: Sequence[CounterRow]) -> None:
        await self.limit_counters.add_to_counters(rows)

    async def counters_changed(self, since_ms: int, live_after_ms: int) -> list[CounterRow]:
        return await self.limit_counters.counters_changed(since_ms, live_after_ms)

    async def counters_clock_ms(self) -> int:
        return await self.limit_counters.counters_clock_ms()

    async def prune_counters(self, now_ms: int) -> int:
        return await self.limit_counters.prune_counters(now_ms)

    async def clients_last_used(self) -> dict[str, int]:
        return await self.limit_counters.clients_last_used()

    # -- alert deduplication (alert_sends.py) --------------------------------------------------
    async def claim_alert(self, dedup_key: str, now_ms: int, cooldown_ms: int) -> bool:
        return await self.alert_sends.claim_alert(dedup_key, now_ms, cooldown_ms)

    # -- dead letters and identity (dead_letters.py) -------------------------------------------
    async def add_dead_letter(self, letter: DeadLetter, frame: bytes) -> None:
        await self.dead_letters.add_dead_letter(letter, frame)

    async def list_dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        return await self.dead_letters.list_dead_letters(limit)

    async def dead_letter_frame(self, letter_id: str) -> bytes | None:
        return await self.dead_letters.dead_letter_frame(letter_id)

    async def remove_dead_letter(self, letter_id: str) -> None:
        await self.dead_letters.remove_dead_letter(letter_id)

    async def dead_letter_count(self) -> int:
        return await self.dead_letters.dead_letter_count()

    async def database_id(self) -> str:
        return await self.dead_letters.database_id()

    # -- analysis jobs (jobs.py) -----------------------------------------------------------------
    async def enqueue_analysis(
        self,
        conversation_id: str,
        branch: str,
        prompt_version: str,
        *,
        force: bool = False,
        now_ms: int | None = None,
    ) -> AnalysisJob:
        return await self.jobs.enqueue_analysis(
            conversation_id, branch, prompt_version, force=force, now_ms=now_ms
        )

    async def claim_analysis(
        self, claim_token: str, now_ms: int | None = None
    ) -> AnalysisJob | None:
        return await self.jobs.claim_analysis(claim_token, now_ms)

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
        return await self.jobs.finish_analysis(
            job_id, claim_token, result_json=result_json, markdown=markdown, model=model,
            input_tokens=input_tokens, output_tokens=output_tokens, now_ms=now_ms,
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
        return await self.jobs.retry_analysis(
            job_id, claim_token, error=error, run_after_ms=run_after_ms, model=model,
            input_tokens=input_tokens, output_tokens=output_tokens, now_ms=now_ms,
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
        return await self.jobs.fail_analysis(
            job_id, claim_token, error=error, model=model, input_tokens=input_tokens,
            output_tokens=output_tokens, now_ms=now_ms,
        )  # fmt: skip

    async def requeue_stuck_analyses(
        self, started_before_ms: int, now_ms: int | None = None
    ) -> list[str]:
        return await self.jobs.requeue_stuck_analyses(started_before_ms, now_ms)

    async def next_analysis_due_ms(self) -> int | None:
        return await self.jobs.next_analysis_due_ms()

    async def get_analysis(self, job_id: str) -> AnalysisJob | None:
        return await self.jobs.get_analysis(job_id)

    async def find_analysis(
        self, conversation_id: str, branch: str, prompt_version: str
    ) -> AnalysisJob | None:
        return await self.jobs.find_analysis(conversation_id, branch, prompt_version)

    async def list_analyses(
        self, *, state: JobState | None = None, conversation_id: str | None = None, limit: int = 100
    ) -> list[AnalysisJob]:
        return await self.jobs.list_analyses(
            state=state, conversation_id=conversation_id, limit=limit
        )
