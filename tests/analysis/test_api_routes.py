"""``/api/analyses`` on the real API app over each store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from nexus.api.app import make_api_app
from nexus.events import EventBus
from nexus.settings import Settings
from nexus.store.base import JobState
from tests.analysis.bodies import session, store_session

TURNS = [("fix the bug", "fixed"), ("thanks", "welcome")]


def client_for(store: Any, tmp_path: Path, *, gemini_key: str | None = "g-key") -> Any:
    settings = Settings(data_dir=tmp_path, gemini_api_key=gemini_key)
    return make_api_app(store, settings, EventBus()).test_client()


async def body(response: Any) -> Any:
    return orjson.loads(await response.get_data())


async def test_post_enqueues_and_get_returns_the_job_then_its_result(
    job_store: Any, tmp_path: Path
) -> None:
    await store_session(job_store, session(TURNS))
    client = client_for(job_store, tmp_path)
    assert (await client.get("/api/analyses/conv1/main")).status_code == 404

    started = await client.post("/api/analyses", json={"conversation_id": "conv1"})
    assert started.status_code == 202
    job = await body(started)
    assert (job["conversation_id"], job["branch"], job["state"]) == ("conv1", "main", "pending")
    again = await client.post("/api/analyses", json={"conversation_id": "conv1", "branch": "main"})
    assert (await body(again))["id"] == job["id"]

    claimed = await job_store.claim_analysis("t")
    await job_store.finish_analysis(
        claimed.id,
        "t",
        result_json=b'{"summary": "s"}',
        markdown="# A\n",
        model="gemini-x",
        input_tokens=10,
        output_tokens=5,
    )
    done = await body(await client.get("/api/analyses/conv1/main"))
    assert done["state"] == "done" and done["result"] == {"summary": "s"}
    assert done["markdown"] == "# A\n" and done["model"] == "gemini-x"
    same = await client.get("/api/conversations/conv1/analyses?branch=main")
    assert (await body(same))["id"] == job["id"]

    listed = await body(await client.get("/api/analyses?state=done"))
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert "markdown" not in listed["items"][0]
    rerun = await client.post("/api/analyses", json={"conversation_id": "conv1", "force": True})
    assert rerun.status_code == 202 and (await body(rerun))["state"] == "pending"


async def test_tui_client_path_starts_an_analysis(job_store: Any, tmp_path: Path) -> None:
    await store_session(job_store, session(TURNS))
    client = client_for(job_store, tmp_path)
    started = await client.post("/api/conversations/conv1/analyses?branch=main")
    assert started.status_code == 202
    assert (await job_store.list_analyses(state=JobState.PENDING))[0].conversation_id == "conv1"


async def test_without_a_gemini_key_starting_is_refused_clearly(
    job_store: Any, tmp_path: Path
) -> None:
    await store_session(job_store, session(TURNS))
    client = client_for(job_store, tmp_path, gemini_key=None)
    response = await client.post("/api/analyses", json={"conversation_id": "conv1"})
    assert response.status_code == 503
    assert "GEMINI_API_KEY" in (await body(response))["error"]["message"]
    assert (await client.get("/api/analyses")).status_code == 200
    assert await job_store.list_analyses() == []


@pytest.mark.parametrize(
    ("payload", "parameter"),
    [
        ({}, "conversation_id"),
        ({"conversation_id": "conv1", "branch": 3}, "branch"),
        ({"conversation_id": "conv1", "force": "yes"}, "force"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    job_store: Any, tmp_path: Path, payload: dict[str, Any], parameter: str
) -> None:
    client = client_for(job_store, tmp_path)
    response = await client.post("/api/analyses", json=payload)
    assert response.status_code == 400
    assert (await body(response))["error"]["parameter"] == parameter
    bad_state = await client.get("/api/analyses?state=sleeping")
    assert bad_state.status_code == 400


async def test_unknown_conversation_is_404(job_store: Any, tmp_path: Path) -> None:
    client = client_for(job_store, tmp_path)
    response = await client.post("/api/analyses", json={"conversation_id": "nope"})
    assert response.status_code == 404 and "not found" in (await body(response))["error"]["message"]


async def test_unknown_branch_of_a_linked_conversation_is_404(
    job_store: Any, tmp_path: Path
) -> None:
    from nexus.conversations.worker import ConversationLinker
    from tests.analysis.bodies import make_record

    records = [
        make_record(f"r{i}", 1_700_000_000_000 + i, b, r) for i, (b, r) in enumerate(session(TURNS))
    ]
    await job_store.write_batch(records)
    await job_store.write_links(await ConversationLinker(job_store).link_batch(records))
    client = client_for(job_store, tmp_path)
    response = await client.post("/api/analyses", json={"conversation_id": "r0", "branch": "x"})
    assert response.status_code == 404
    assert "no branch 'x'" in (await body(response))["error"]["message"]
    ok = await client.post("/api/analyses", json={"conversation_id": "r0", "branch": "main"})
    assert ok.status_code == 202


async def test_unknown_branch_is_404_also_where_links_were_written_without_the_index(
    job_store: Any, tmp_path: Path
) -> None:
    # write_links alone (no conversation index): the route used to check only that the
    # conversation existed and queued a job the loader then failed.
    await store_session(job_store, session(TURNS))
    client = client_for(job_store, tmp_path)
    response = await client.post("/api/analyses", json={"conversation_id": "conv1", "branch": "x"})
    assert response.status_code == 404
    assert "no branch 'x' (main)" in (await body(response))["error"]["message"]
    assert await job_store.list_analyses() == []
