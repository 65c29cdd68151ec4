from __future__ import annotations

from typing import Any

import pytest
from quart import Quart, Response

from nexus.api.context import EXTENSION_KEY, ApiContext
from nexus.api.routes.usage import bp
from nexus.errors import ApiError
from nexus.records import now_ms
from nexus.settings import Settings
from tests.factories import make_record

T0 = now_ms() - 3_600_000  # the windows route reads the last days


@pytest.fixture
async def client(usage_store: Any) -> Any:
    await usage_store.write_batch(
        [
            make_record(
                started_at_ms=T0,
                account_id="team",
                session_id="s1",
                model="claude-opus-4-8",
                ratelimit=(("anthropic-ratelimit-unified-5h-utilization", "0.2"),),
            ),
            make_record(
                started_at_ms=T0 + 1000,
                account_id="team",
                session_id="s2",
                model="claude-haiku-4-5",
                status=500,
            ),
        ]
    )
    app = Quart(__name__)
    app.extensions[EXTENSION_KEY] = ApiContext(store=usage_store, settings=Settings(), bus=None)  # type: ignore[arg-type]

    @app.errorhandler(ApiError)
    async def _error(exc: ApiError) -> Response:
        return Response(exc.message, status=exc.status)

    app.register_blueprint(bp)
    return app.test_client()


async def test_usage_route_groups_and_filters(client: Any) -> None:
    response = await client.get("/api/usage", query_string={"by": "model,session", "since": "0"})
    assert response.status_code == 200
    body = await response.get_json()
    assert body["group_by"] == ["model", "session"]
    assert {r["group"]["model"] for r in body["rows"]} == {"claude-opus-4-8", "claude-haiku-4-5"}
    assert body["total"]["errors"] == 1
    errors = await (await client.get("/api/usage", query_string={"status": "5xx"})).get_json()
    assert errors["total"]["requests"] == 1


async def test_usage_route_day_buckets(client: Any) -> None:
    body = await (await client.get("/api/usage", query_string={"bucket": "day"})).get_json()
    assert len(body["rows"]) in (1, 2) and set(body["rows"][0]["group"]) == {"day"}


@pytest.mark.parametrize("query", [{"by": "planet"}, {"bucket": "week"}, {"utc_offset_ms": "x"}])
async def test_usage_route_refuses_bad_parameters(client: Any, query: dict[str, str]) -> None:
    assert (await client.get("/api/usage", query_string=query)).status_code == 400


async def test_windows_route_gives_state_series_and_attribution(client: Any) -> None:
    body = await (await client.get("/api/windows", query_string={"since": "0"})).get_json()
    (team,) = body["accounts"]
    assert team["account"] == "team" and team["source"] == "headers"
    assert team["windows"][0]["utilization"] == 0.25  # the newest response said 0.25
    assert [p["utilization"] for p in team["series"]] == [0.2, 0.25]
    assert [a["session_id"] for a in team["attribution"]] == ["s2"]
    bare = await (await client.get("/api/windows", query_string={"series": "0"})).get_json()
    assert bare["accounts"][0]["series"] == []


async def test_cli_reads_the_same_documents_through_the_api(client: Any, usage_store: Any) -> None:
    import httpx

    from nexus.cli.usage import _remote, local_report

    transport = httpx.ASGITransport(app=client.app)
    query = {"by": "model", "since": 0, "utc_offset_ms": 0}
    remote = await _remote("http://nexus.test", "k", transport=transport)(query)
    local = await local_report(usage_store, query, now_ms())
    assert remote["usage"] == local["usage"]
    assert [a["account"] for a in remote["windows"]["accounts"]] == ["team"]


async def test_cli_remote_errors_carry_the_api_message(client: Any) -> None:
    import httpx

    from nexus.cli.usage import _remote

    transport = httpx.ASGITransport(app=client.app)
    with pytest.raises(ApiError, match="planet") as raised:
        await _remote("http://nexus.test", None, transport=transport)({"by": "planet"})
    assert raised.value.status == 400
