"""The analysis worker: claims jobs, runs them (transcript → model → validated result) and records
the outcome; retries transient failures with backoff and requeues jobs whose worker vanished.

Retries go through the store, not an in-process sleep: a retried job is pending again with a
``run_after_ms``, so any worker in any process may pick it up and the job list shows the truth.
A transient failure (429, 5xx, network) or a malformed reply is retried until ``max_attempts``; a
rejection (another 4xx) or a missing branch fails at once. ``requeue_stuck_analyses`` runs on every
poll, so a crashed worker costs one ``stuck_after_s`` of delay, never the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nexus.analysis.analyzer import (
    Analyzer,
    RejectedAnalysisError,
    TransientAnalysisError,
    make_request,
)
from nexus.analysis.loader import load_branch_exchanges
from nexus.analysis.prompts import PROMPT_VERSION
from nexus.analysis.schema import MalformedReply, parse_result, render_markdown, result_to_json
from nexus.analysis.transcript import CHARS_PER_TOKEN, build_turns, fit_to_budget
from nexus.errors import AnalysisError, StoreUnavailable
from nexus.records import new_id, now_ms

if TYPE_CHECKING:
    from nexus.store.base import AnalysisJob

log = logging.getLogger("nexus.analysis")

DEFAULT_INPUT_BUDGET_TOKENS = 900_000  # Gemini 2.5 reads 1M tokens; room for prompt and estimate


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failed attempt is tried again."""

    max_attempts: int = 4
    base_delay_s: float = 15.0
    max_delay_s: float = 900.0

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Exponential backoff after the ``attempt``-th try, never sooner than the server asked."""
        delay: float = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        return max(delay, retry_after_s or 0.0)


class AnalysisWorker:
    """Runs analysis jobs from ``store`` with ``analyzer`` until ``stop_event`` is set.

    ``clock`` (epoch ms) is injectable so tests drive backoff and stuck-job timeouts without
    sleeping; ``wake()`` lets a caller in the same process skip the rest of a poll interval.
    """

    def __init__(
        self,
        store: Any,
        analyzer: Analyzer,
        *,
        poll_s: float = 2.0,
        stop_event: asyncio.Event | None = None,
        stuck_after_s: float = 900.0,
        policy: RetryPolicy = RetryPolicy(),
        input_budget_tokens: int = DEFAULT_INPUT_BUDGET_TOKENS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.poll_s = poll_s
        self.stop_event = stop_event or asyncio.Event()
        self.stuck_after_s = stuck_after_s
        self.policy = policy
        self.input_budget_chars = input_budget_tokens * CHARS_PER_TOKEN
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Poll, claim and run jobs until the stop event is set. Store outages are waited out."""
        log.info("analysis worker started (model %s)", self.analyzer.model)
        while not self.stop_event.is_set():
            try:
                job = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("analysis worker: store unavailable (%s); retrying", exc)
                job = None
            if job is None:
                await self._idle()

    async def run_once(self) -> AnalysisJob | None:
        """Requeue stuck jobs, then claim and run one due job; returns it as it ended, or None."""
        now = self.clock()
        stuck = await self.store.requeue_stuck_analyses(
            now - int(self.stuck_after_s * 1000), now_ms=now
        )
        for job_id in stuck:
            log.warning("analysis job %s was stuck in running; requeued", job_id)
        job = await self.store.claim_analysis(new_id(now), now_ms=now)
        if job is None:
            return None
        await self.run_job(job)
        ended: AnalysisJob | None = await self.store.get_analysis(job.id)
        return ended

    async def run_job(self, job: AnalysisJob) -> None:
        """Run one claimed job and record how it ended. Never raises for the job's own failures."""
        assert job.claim_token is not None
        token = job.claim_token
        if job.attempts > self.policy.max_attempts:
            await self.store.fail_analysis(
                job.id, token, error=_gave_up(job.attempts - 1, job.error), now_ms=self.clock()
            )
            return
        reply = None
        try:
            exchanges = await load_branch_exchanges(self.store, job.conversation_id, job.branch)
            turns = await asyncio.to_thread(build_turns, exchanges)
            transcript = await asyncio.to_thread(fit_to_budget, turns, self.input_budget_chars)
            reply = await self.analyzer.generate(make_request(transcript))
            result = parse_result(reply.text)
        except (TransientAnalysisError, MalformedReply) as exc:
            retry_after = exc.retry_after_s if isinstance(exc, TransientAnalysisError) else None
            await self._retry_or_fail(job, exc, retry_after, reply)
            return
        except (RejectedAnalysisError, AnalysisError) as exc:
            await self.store.fail_analysis(
                job.id, token, error=exc.message, now_ms=self.clock(), **_tokens(reply)
            )
            log.warning("analysis job %s failed: %s", job.id, exc.message)
            return
        except StoreUnavailable:
            raise  # the claim stays running; stuck recovery hands it out again later
        except Exception as exc:  # a bug: fail the job loudly rather than retry it forever
            log.exception("analysis job %s crashed", job.id)
            await self.store.fail_analysis(
                job.id, token, error=f"internal error: {type(exc).__name__}", now_ms=self.clock()
            )
            return
        assert reply is not None
        title = f"Analysis of conversation {job.conversation_id} ({job.branch})"
        markdown = render_markdown(result, title=title, note=transcript.note)
        finished = await self.store.finish_analysis(
            job.id,
            token,
            result_json=result_to_json(result),
            markdown=markdown,
            model=reply.model,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            now_ms=self.clock(),
        )
        if not finished:
            log.warning("analysis job %s finished after its claim was lost; result dropped", job.id)

    async def _retry_or_fail(
        self, job: AnalysisJob, exc: AnalysisError, retry_after_s: float | None, reply: Any
    ) -> None:
        assert job.claim_token is not None
        now = self.clock()
        if job.attempts >= self.policy.max_attempts:
            await self.store.fail_analysis(
                job.id,
                job.claim_token,
                error=_gave_up(job.attempts, exc.message),
                now_ms=now,
                **_tokens(reply),
            )
            log.warning("analysis job %s failed after %d attempts", job.id, job.attempts)
            return
        delay_ms = int(self.policy.delay_s(job.attempts, retry_after_s) * 1000)
        await self.store.retry_analysis(
            job.id,
            job.claim_token,
            error=exc.message,
            run_after_ms=now + delay_ms,
            now_ms=now,
            **_tokens(reply),
        )
        log.info("analysis job %s: %s; retrying in %d s", job.id, exc.message, delay_ms // 1000)

    async def _idle(self) -> None:
        # Two short-lived waiters, referenced here and cancelled below: whichever of stop, wake or
        # the poll interval comes first ends the wait.
        stop = asyncio.ensure_future(self.stop_event.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=self.poll_s, return_when="FIRST_COMPLETED")
        finally:
            for waiter in (stop, wake):
                waiter.cancel()
            self._wake.clear()


async def request_analysis(
    store: Any,
    conversation_id: str,
    branch: str = "main",
    *,
    force: bool = False,
    now_ms: int | None = None,
) -> AnalysisJob:
    """Enqueue (or with ``force`` re-run) the analysis of a branch under the current prompt."""
    job: AnalysisJob = await store.enqueue_analysis(
        conversation_id, branch, PROMPT_VERSION, force=force, now_ms=now_ms
    )
    return job


def _tokens(reply: Any) -> dict[str, Any]:
    if reply is None:
        return {}
    return {
        "model": reply.model,
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
    }


def _gave_up(attempts: int, last_error: str | None) -> str:
    return f"gave up after {attempts} attempts; last error: {last_error or 'unknown'}"
