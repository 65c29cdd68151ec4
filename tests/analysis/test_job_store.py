from __future__ import annotations

from typing import Any

import pytest

from nexus.store.base import JobState

T0 = 1_750_000_000_000


async def events(store: Any) -> list[tuple[str, str]]:
    return [tuple(r) for r in await store._fetchall("SELECT kind, ref_id FROM events ORDER BY seq")]


async def test_enqueue_is_idempotent_per_conversation_branch_and_version(job_store: Any) -> None:
    first = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    again = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0 + 5)
    other_branch = await job_store.enqueue_analysis("c1", "rewind-1", "v1", now_ms=T0)
    other_version = await job_store.enqueue_analysis("c1", "main", "v2", now_ms=T0)
    assert again == first
    assert first.state is JobState.PENDING and first.attempts == 0
    assert len({first.id, other_branch.id, other_version.id}) == 3
    assert await events(job_store) == [
        ("analysis", first.id),
        ("analysis", other_branch.id),
        ("analysis", other_version.id),
    ]


async def test_claim_finish_records_state_timings_tokens_and_result(job_store: Any) -> None:
    job = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    claimed = await job_store.claim_analysis("tok-a", now_ms=T0 + 10)
    assert claimed is not None and claimed.id == job.id
    assert (claimed.state, claimed.attempts, claimed.started_at_ms) == (
        JobState.RUNNING,
        1,
        T0 + 10,
    )
    assert await job_store.claim_analysis("tok-b", now_ms=T0 + 11) is None
    assert await job_store.finish_analysis(
        job.id,
        "tok-a",
        result_json=b'{"summary": "x"}',
        markdown="# x\n",
        model="gemini-x",
        input_tokens=100,
        output_tokens=20,
        now_ms=T0 + 510,
    )
    done = await job_store.get_analysis(job.id)
    assert done.state is JobState.DONE and done.duration_ms == 500
    assert (done.result_json, done.markdown, done.model) == (
        b'{"summary": "x"}',
        "# x\n",
        "gemini-x",
    )
    assert (done.input_tokens, done.output_tokens, done.claim_token) == (100, 20, None)
    assert [e[1] for e in await events(job_store)] == [job.id] * 3


async def test_retry_waits_for_run_after_and_sums_tokens(job_store: Any) -> None:
    job = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    await job_store.claim_analysis("a", now_ms=T0)
    assert await job_store.retry_analysis(
        job.id, "a", error="429 busy", run_after_ms=T0 + 5_000, input_tokens=7, now_ms=T0 + 1
    )
    assert await job_store.claim_analysis("b", now_ms=T0 + 4_999) is None
    again = await job_store.claim_analysis("b", now_ms=T0 + 5_000)
    assert again is not None and again.attempts == 2 and again.error == "429 busy"
    assert await job_store.fail_analysis(
        job.id, "b", error="bad", input_tokens=3, now_ms=T0 + 6_000
    )
    failed = await job_store.get_analysis(job.id)
    assert (failed.state, failed.error, failed.input_tokens) == (JobState.FAILED, "bad", 10)


async def test_a_lost_claim_cannot_finish_the_job(job_store: Any) -> None:
    job = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    await job_store.claim_analysis("old", now_ms=T0)
    assert await job_store.requeue_stuck_analyses(T0 + 1, now_ms=T0 + 2) == [job.id]
    requeued = await job_store.get_analysis(job.id)
    assert requeued.state is JobState.PENDING and "stopped" in requeued.error
    new = await job_store.claim_analysis("new", now_ms=T0 + 3)
    assert new is not None and new.attempts == 2
    kwargs: dict[str, Any] = dict(
        result_json=b"{}", markdown="", model="m", input_tokens=0, output_tokens=0
    )
    assert not await job_store.finish_analysis(job.id, "old", **kwargs)
    assert not await job_store.fail_analysis(job.id, "old", error="late")
    assert await job_store.finish_analysis(job.id, "new", **kwargs)


async def test_requeue_leaves_recent_running_jobs_alone(job_store: Any) -> None:
    await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    await job_store.claim_analysis("a", now_ms=T0 + 100)
    assert await job_store.requeue_stuck_analyses(T0 + 100, now_ms=T0 + 200) == []


async def test_force_reruns_a_finished_job_but_not_a_running_one(job_store: Any) -> None:
    job = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0)
    await job_store.claim_analysis("a", now_ms=T0)
    running = await job_store.enqueue_analysis("c1", "main", "v1", force=True, now_ms=T0 + 1)
    assert running.state is JobState.RUNNING
    await job_store.fail_analysis(job.id, "a", error="nope", now_ms=T0 + 2)
    rerun = await job_store.enqueue_analysis("c1", "main", "v1", force=True, now_ms=T0 + 3)
    assert rerun.id == job.id
    assert (rerun.state, rerun.attempts, rerun.error, rerun.result_json) == (
        JobState.PENDING,
        0,
        None,
        None,
    )


async def test_find_prefers_the_current_prompt_version_and_lists_newest_first(
    job_store: Any,
) -> None:
    old = await job_store.enqueue_analysis("c1", "main", "v0", now_ms=T0)
    assert (await job_store.find_analysis("c1", "main", "v1")).id == old.id
    new = await job_store.enqueue_analysis("c1", "main", "v1", now_ms=T0 + 1)
    await job_store.enqueue_analysis("c2", "main", "v1", now_ms=T0 + 2)
    assert (await job_store.find_analysis("c1", "main", "v1")).id == new.id
    assert await job_store.find_analysis("c1", "other", "v1") is None
    listed = await job_store.list_analyses(conversation_id="c1")
    assert [j.id for j in listed] == [new.id, old.id]
    assert len(await job_store.list_analyses(state=JobState.PENDING, limit=2)) == 2
    assert await job_store.list_analyses(state=JobState.DONE) == []


@pytest.mark.parametrize("workers", [2, 8])
async def test_concurrent_claims_hand_each_job_to_exactly_one_worker(
    job_store: Any, workers: int
) -> None:
    import asyncio

    for i in range(20):
        await job_store.enqueue_analysis(f"c{i}", "main", "v1", now_ms=T0 + i)

    async def worker(name: str) -> list[str]:
        got = []
        while (job := await job_store.claim_analysis(name, now_ms=T0 + 100)) is not None:
            got.append(job.id)
        return got

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(workers)))
    claimed = [job_id for got in results for job_id in got]
    assert len(claimed) == 20 == len(set(claimed))


async def test_two_sqlite_stores_on_one_file_never_claim_the_same_job(tmp_path: Any) -> None:
    import asyncio

    from nexus.store.sqlite import SqliteStore

    stores = [SqliteStore(tmp_path / "shared.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        for i in range(30):
            await stores[0].enqueue_analysis(f"c{i}", "main", "v1", now_ms=T0 + i)

        async def worker(store: Any, name: str) -> list[str]:
            got = []
            while (job := await store.claim_analysis(name, now_ms=T0 + 100)) is not None:
                got.append(job.id)
                await asyncio.sleep(0)
            return got

        a, b = await asyncio.gather(worker(stores[0], "a"), worker(stores[1], "b"))
        assert len(a) + len(b) == 30 == len(set(a) | set(b))
    finally:
        for store in stores:
            await store.close()
