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
from nexus.analysis.cache_note import cache_breaks_note
from nexus.analysis.loader import load_branch
from nexus.analysis.prompts import PromptChoice
from nexus.analysis.schema import MalformedReply, parse_result, render_markdown, result_to_json
from nexus.analysis.transcript import CHARS_PER_TOKEN, build_turns, fit_to_budget
from nexus.errors import AnalysisError, StoreUnavailable
from nexus.records import new_id, now_ms

if TYPE_CHECKING:
    from nexus.events import EventBus, Subscription
    from nexus.settings import Settings
    from nexus.store.base import AnalysisJob

log = logging.getLogger("nexus.analysis")
BUILT_IN_PROMPT = PromptChoice()

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

    While idle it reads when the next job is due (a read, never the writer) whenever ``bus`` says
    something was committed, ``wake()`` is called or ``poll_s`` passes, and claims only when a job
    is due. Stuck jobs are requeued every ``poll_s``. ``clock`` (epoch ms) is injectable so tests
    drive backoff and stuck-job timeouts without sleeping. With ``owns_analyzer`` the worker closes
    the analyzer when ``run`` ends.
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
        bus: EventBus | None = None,
        owns_analyzer: bool = False,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.poll_s = poll_s
        self.stop_event = stop_event or asyncio.Event()
        self.stuck_after_s = stuck_after_s
        self.policy = policy
        self.input_budget_chars = input_budget_tokens * CHARS_PER_TOKEN
        self.clock = clock
        self.bus = bus
        self.owns_analyzer = owns_analyzer
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Claim and run due jobs until the stop event (this one, else the constructor's) is set.
        Store outages are waited out; the job of a lost store stays running until requeued."""
        if stop_event is not None:
            self.stop_event = stop_event
        log.info("analysis worker started (model %s)", self.analyzer.model)
        subscription = self.bus.subscribe() if self.bus is not None else None
        next_stuck_check = 0
        try:
            while not self.stop_event.is_set():
                timeout_s = self.poll_s
                try:
                    now = self.clock()
                    if now >= next_stuck_check:
                        await self._requeue_stuck(now)
                        next_stuck_check = now + int(self.poll_s * 1000)
                    due = await self.store.next_analysis_due_ms()
                    if due is not None and due <= now:
                        if await self._claim_and_run(now) is not None:
                            continue
                    elif due is not None:
                        timeout_s = min(self.poll_s, (due - now) / 1000)
                except StoreUnavailable as exc:
                    log.warning("analysis worker: store unavailable (%s); retrying", exc)
                await self._idle(timeout_s, subscription)
        finally:
            if subscription is not None:
                subscription.close()
            if self.owns_analyzer:
                await self.analyzer.aclose()
            log.info("analysis worker stopped")

    async def run_once(self) -> AnalysisJob | None:
        """Requeue stuck jobs, then claim and run one due job; returns it as it ended, or None."""
        now = self.clock()
        await self._requeue_stuck(now)
        return await self._claim_and_run(now)

    async def _requeue_stuck(self, now: int) -> None:
        stuck = await self.store.requeue_stuck_analyses(
            now - int(self.stuck_after_s * 1000), now_ms=now
        )
        for job_id in stuck:
            log.warning("analysis job %s was stuck in running; requeued", job_id)

    async def _claim_and_run(self, now: int) -> AnalysisJob | None:
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
            exchanges, summaries = await load_branch(self.store, job.conversation_id, job.branch)
            turns = await asyncio.to_thread(build_turns, exchanges)
            transcript = await asyncio.to_thread(fit_to_budget, turns, self.input_budget_chars)
            notes = cache_breaks_note(summaries)
            request = make_request(transcript, notes, instructions=job.prompt_text)
            reply = await self.analyzer.generate(request)
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
        if job.prompt_name:
            title += f", prompt {job.prompt_name}"
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

    async def _idle(self, timeout_s: float, subscription: Subscription | None) -> None:
        # Short-lived waiters, referenced here and cancelled below: whichever of stop, wake(), a
        # commit on the bus or the timeout comes first ends the wait.
        waiters: set[asyncio.Future[bool]] = {
            asyncio.ensure_future(self.stop_event.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        if subscription is not None:
            waiters.add(asyncio.ensure_future(subscription.wait(timeout_s)))
        try:
            await asyncio.wait(waiters, timeout=max(0.0, timeout_s), return_when="FIRST_COMPLETED")
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            self._wake.clear()


def build_worker(
    store: Any, settings: Settings, *, bus: EventBus | None = None, poll_s: float = 2.0
) -> AnalysisWorker:
    """The worker ``nexus serve`` runs: Gemini as ``settings`` say, woken by ``bus`` commits.
    Raises ``ConfigError`` without ``GEMINI_API_KEY``. Run it with ``await worker.run(stop)``."""
    from nexus.analysis.gemini import GeminiAnalyzer  # loads google-genai only when needed

    analyzer = GeminiAnalyzer.from_settings(settings)
    return AnalysisWorker(store, analyzer, poll_s=poll_s, bus=bus, owns_analyzer=True)


async def request_analysis(
    store: Any,
    conversation_id: str,
    branch: str = "main",
    *,
    force: bool = False,
    now_ms: int | None = None,
    prompt: PromptChoice = BUILT_IN_PROMPT,
) -> AnalysisJob:
    """Enqueue (or with ``force`` re-run) the analysis of a branch under ``prompt`` (the built-in
    prompt's current version unless a custom prompt is given)."""
    job: AnalysisJob = await store.enqueue_analysis(
        conversation_id,
        branch,
        prompt.key,
        force=force,
        now_ms=now_ms,
        prompt_name=None if prompt.text is None else prompt.name,
        prompt_text=prompt.text,
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
