"""The worker end to end: store → transcript → fake Gemini (real sockets, SDK) → stored result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from nexus.analysis.gemini import GeminiAnalyzer
from nexus.analysis.jobs import AnalysisWorker, RetryPolicy, request_analysis
from nexus.analysis.prompts import PROMPT_VERSION
from nexus.records import now_ms
from nexus.store.base import JobState
from tests.analysis.bodies import session, store_session
from tests.fakes.gemini import GOOD_ANALYSIS, FakeGemini


class FakeClock:
    """Epoch ms that moves only when told to."""

    def __init__(self) -> None:
        self.start = self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
async def analyzer(fake_gemini: FakeGemini) -> AsyncIterator[GeminiAnalyzer]:
    analyzer = GeminiAnalyzer(api_key="g-key", model="gemini-2.5-pro", base_url=fake_gemini.url)
    yield analyzer
    await analyzer.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_worker(store: Any, analyzer: Any, clock: FakeClock, **kwargs: Any) -> AnalysisWorker:
    kwargs.setdefault("policy", RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=60))
    return AnalysisWorker(store, analyzer, poll_s=0.01, clock=clock, **kwargs)


TURNS = [
    ("The test test_parse fails, please fix it", "I found an off-by-one in parse(); fixed."),
    ("Run the tests again", "All 42 tests pass."),
]


async def test_job_runs_end_to_end_into_a_stored_result_and_markdown(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    job = await request_analysis(job_store, "conv1", "main", now_ms=clock())
    assert (job.state, job.prompt_version) == (JobState.PENDING, PROMPT_VERSION)
    fake_gemini.reply_json(prompt_tokens=5000, output_tokens=700)

    done = await make_worker(job_store, analyzer, clock).run_once()

    assert done is not None and done.id == job.id
    assert done.state is JobState.DONE, done.error
    assert orjson.loads(done.result_json) == GOOD_ANALYSIS
    assert done.markdown.startswith("# Analysis of conversation conv1 (main)")
    assert "## Prompting tips" in done.markdown
    assert (done.input_tokens, done.output_tokens, done.attempts) == (5000, 700, 1)
    assert done.model == "gemini-2.5-pro"
    sent = fake_gemini.calls[0].json
    texts = [c["parts"][0]["text"] for c in sent["contents"]]
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user", "model", "user"]
    assert texts[0] == TURNS[0][0] and texts[3] == TURNS[1][1]
    assert "Analyse it now" in texts[-1]
    assert sent["generationConfig"]["responseMimeType"] == "application/json"


async def test_malformed_json_is_retried_then_the_job_fails(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    job = await request_analysis(job_store, "conv1", now_ms=clock())
    worker = make_worker(job_store, analyzer, clock)
    fake_gemini.reply_text('{"summary": "cut off')
    fake_gemini.reply_json({**GOOD_ANALYSIS, "outcome": "great"})
    fake_gemini.reply_text("not json at all", prompt_tokens=10, output_tokens=1)

    first = await worker.run_once()
    assert first.state is JobState.PENDING and "not JSON" in first.error
    assert await worker.run_once() is None  # backing off
    clock.advance(10)
    second = await worker.run_once()
    assert second.state is JobState.PENDING and "outcome" in second.error
    clock.advance(20)
    last = await worker.run_once()

    assert last.id == job.id and last.state is JobState.FAILED
    assert last.error.startswith("gave up after 3 attempts") and "not JSON" in last.error
    assert last.attempts == 3 and len(fake_gemini.calls) == 3
    assert last.input_tokens == 1200 * 2 + 10  # every attempt's tokens are counted
    assert last.result_json is None


async def test_rate_limit_backs_off_exponentially_and_honours_retry_delay(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    await request_analysis(job_store, "conv1", now_ms=clock())
    worker = make_worker(job_store, analyzer, clock)
    fake_gemini.reply_error(429, "Resource has been exhausted")
    fake_gemini.reply_error(503)

    first = await worker.run_once()
    assert first.state is JobState.PENDING and "429" in first.error
    assert first.run_after_ms == clock.start + 10_000
    clock.advance(9.999)
    assert await worker.run_once() is None
    clock.advance(0.001)
    second = await worker.run_once()
    assert "503" in second.error and second.run_after_ms == clock.ms + 20_000  # doubled

    fake_gemini.reply_error(429, retry_delay_s=45)  # the server asks for more than the backoff
    clock.advance(20)
    third = await worker.run_once()
    assert third.state is JobState.FAILED and "gave up after 3" in third.error

    assert RetryPolicy(base_delay_s=10).delay_s(2, retry_after_s=45) == 45
    assert RetryPolicy(base_delay_s=10, max_delay_s=60).delay_s(9) == 60


async def test_rate_limit_then_success_finishes_the_job(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    await request_analysis(job_store, "conv1", now_ms=clock())
    worker = make_worker(job_store, analyzer, clock)
    fake_gemini.reply_error(429)
    assert (await worker.run_once()).state is JobState.PENDING
    clock.advance(10)
    done = await worker.run_once()
    assert done.state is JobState.DONE and done.attempts == 2 and done.error is None


async def test_client_error_fails_at_once(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    await request_analysis(job_store, "conv1", now_ms=clock())
    fake_gemini.reply_error(400, "Request payload size exceeds the limit")
    failed = await make_worker(job_store, analyzer, clock).run_once()
    assert failed.state is JobState.FAILED and "payload size" in failed.error
    assert failed.attempts == 1


async def test_unknown_branch_fails_with_a_clear_error(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    await request_analysis(job_store, "conv1", "nope", now_ms=clock())
    failed = await make_worker(job_store, analyzer, clock).run_once()
    assert failed.state is JobState.FAILED and "no branch 'nope'" in failed.error
    assert fake_gemini.calls == []


async def test_stuck_job_goes_back_to_pending_and_is_run_again(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    job = await request_analysis(job_store, "conv1", now_ms=clock())
    crashed = await job_store.claim_analysis("dead-worker", now_ms=clock())  # then never reports
    assert crashed.state is JobState.RUNNING
    worker = make_worker(job_store, analyzer, clock, stuck_after_s=600)

    clock.advance(599)
    assert await worker.run_once() is None
    assert (await job_store.get_analysis(job.id)).state is JobState.RUNNING
    clock.advance(2)
    done = await worker.run_once()
    assert done.id == job.id and done.state is JobState.DONE and done.attempts == 2
    late = await job_store.fail_analysis(job.id, "dead-worker", error="late")
    assert late is False and (await job_store.get_analysis(job.id)).state is JobState.DONE


async def test_a_job_requeued_more_often_than_allowed_fails(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    job = await request_analysis(job_store, "conv1", now_ms=clock())
    for _ in range(3):
        await job_store.claim_analysis("dying", now_ms=clock())
        clock.advance(1000)
        await job_store.requeue_stuck_analyses(clock() - 1, now_ms=clock())
    failed = await make_worker(job_store, analyzer, clock).run_once()
    assert failed.id == job.id and failed.state is JobState.FAILED
    assert "gave up after 3 attempts" in failed.error and fake_gemini.calls == []


async def test_force_reruns_a_done_analysis(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    await store_session(job_store, session(TURNS))
    first = await request_analysis(job_store, "conv1", now_ms=clock())
    worker = make_worker(job_store, analyzer, clock)
    await worker.run_once()
    assert (await request_analysis(job_store, "conv1", now_ms=clock())).state is JobState.DONE
    rerun = await request_analysis(job_store, "conv1", force=True, now_ms=clock())
    assert rerun.id == first.id and rerun.state is JobState.PENDING
    assert (await worker.run_once()).state is JobState.DONE
    assert len(fake_gemini.calls) == 2


async def test_two_workers_never_run_the_same_job(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    for n in range(6):
        turns = [(f"conv{n}: {TURNS[0][0]}", TURNS[0][1]), TURNS[1]]
        await store_session(job_store, session(turns), conversation_id=f"conv{n}", prefix=f"c{n}-")
        await request_analysis(job_store, f"conv{n}", now_ms=clock())
    stop = asyncio.Event()
    workers = [make_worker(job_store, analyzer, clock, stop_event=stop) for _ in range(2)]
    runs = [asyncio.ensure_future(w.run()) for w in workers]
    try:
        await fake_gemini.wait_for_calls(6)
        for _ in range(200):
            jobs = await job_store.list_analyses()
            if all(j.state is JobState.DONE for j in jobs):
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*runs), 5)
    assert [j.state for j in jobs] == [JobState.DONE] * 6
    assert all(j.attempts == 1 for j in jobs)
    analysed = [c.json["contents"][0]["parts"][0]["text"].split(":")[0] for c in fake_gemini.calls]
    assert sorted(analysed) == [f"conv{n}" for n in range(6)]  # each exactly once


async def test_worker_stops_promptly_when_the_stop_event_is_set(
    job_store: Any, analyzer: GeminiAnalyzer, clock: FakeClock
) -> None:
    stop = asyncio.Event()
    worker = AnalysisWorker(job_store, analyzer, poll_s=30, stop_event=stop, clock=clock)
    run = asyncio.ensure_future(worker.run())
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(run, 1)


SECRETS = [
    "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
    "cnp_live_7h6g5f4e3d2c1b0a",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlc2lnbmF0dXJl",
    "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
    "hunter2-is-my-password",
]


async def test_secrets_never_reach_gemini(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    turns = [
        (f"use key {SECRETS[0]} and client key {SECRETS[1]}", "ok, configured"),
        (f"curl -H 'Authorization: Bearer {SECRETS[2]}'", f"set GITHUB_TOKEN={SECRETS[3]}"),
        (f"DB_PASSWORD={SECRETS[4]} works now", "great"),
    ]
    await store_session(job_store, session(turns))
    await request_analysis(job_store, "conv1", now_ms=clock())
    done = await make_worker(job_store, analyzer, clock).run_once()
    assert done.state is JobState.DONE
    seen = fake_gemini.calls[0].body
    for secret in SECRETS:
        assert secret.encode() not in seen
    assert b"[REDACTED:anthropic-key]" in seen and b"DB_PASSWORD=[REDACTED]" in seen
    assert b"ok, configured" in seen


async def test_huge_conversation_is_cut_to_the_budget_keeping_start_and_end(
    job_store: Any, analyzer: GeminiAnalyzer, fake_gemini: FakeGemini, clock: FakeClock
) -> None:
    turns = [(f"prompt {i}: " + "p" * 3000, f"answer {i}: " + "a" * 3000) for i in range(100)]
    await store_session(job_store, session(turns))
    await request_analysis(job_store, "conv1", now_ms=clock())
    worker = make_worker(job_store, analyzer, clock, input_budget_tokens=20_000)
    done = await worker.run_once()

    assert done.state is JobState.DONE, done.error
    contents = fake_gemini.calls[0].json["contents"]
    texts = [c["parts"][0]["text"] for c in contents]
    assert sum(len(t) for t in texts) < 20_000 * 3 + 1_000  # budget plus the closing request
    assert texts[0].startswith("prompt 0: ")
    assert any(t.startswith("answer 99: ") for t in texts[-2:])
    assert "left out to fit" in texts[-1] or any("[Nexus: Turns" in t for t in texts)
    assert "of 200" in " ".join(texts)
    assert "> Note: Turns " in done.markdown


async def test_served_worker_wakes_on_a_commit_instead_of_waiting_for_the_poll(
    job_store: Any, fake_gemini: FakeGemini
) -> None:
    from nexus.analysis.jobs import build_worker
    from nexus.events import EventBus
    from nexus.settings import Settings

    await store_session(job_store, session(TURNS))
    bus = EventBus()
    job_store.on_commit = bus.notify
    settings = Settings(gemini_api_key="g-key", gemini_url=fake_gemini.url)
    worker = build_worker(job_store, settings, bus=bus, poll_s=30)
    stop = asyncio.Event()
    run = asyncio.ensure_future(worker.run(stop))
    try:
        await asyncio.sleep(0.05)  # the worker is idle now, for up to 30 s unless woken
        job = await request_analysis(job_store, "conv1")
        await fake_gemini.wait_for_calls(1, timeout=5)
        for _ in range(200):
            if (await job_store.get_analysis(job.id)).state is JobState.DONE:
                break
            await asyncio.sleep(0.01)
        assert (await job_store.get_analysis(job.id)).state is JobState.DONE
    finally:
        stop.set()
        await asyncio.wait_for(run, 5)
    assert worker.analyzer._http.is_closed  # the served worker closes what it built


def test_building_the_served_worker_without_a_key_is_a_clear_error() -> None:
    from nexus.analysis.jobs import build_worker
    from nexus.errors import ConfigError
    from nexus.settings import Settings

    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        build_worker(object(), Settings())
