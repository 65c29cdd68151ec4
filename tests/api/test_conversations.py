"""``/api/conversations``: the list with filters and paging, and one conversation's tree."""

from __future__ import annotations

import orjson

from nexus.conversations.worker import ConversationLinker
from nexus.records import RequestRecord
from tests.factories import turn
from tests.fakes.api_server import Api

T0 = 1_770_000_000_000


async def seed(api: Api) -> tuple[list[RequestRecord], list[RequestRecord]]:
    a1 = turn(None, "refactor the parser", T0, session_id="sa", account_id="acct-a")
    a2 = turn(a1, "now add tests", T0 + 1000)
    a3 = turn(a2, "and the docs", T0 + 2000)
    b1 = turn(None, "profile the server", T0 + 500, session_id="sb", account_id="acct-b")
    b2 = turn(b1, "make it faster", T0 + 5000)
    records = sorted([a1, a2, a3, b1, b2], key=lambda r: r.exchange.started_at_ms)
    await api.write(records)
    await api.store.write_links(await ConversationLinker(api.store).link_batch(records))
    return [a1, a2, a3], [b1, b2]


async def test_list_newest_activity_first_with_filters_and_paging(api: Api) -> None:
    a, b = await seed(api)
    response = await api.client.get("/api/conversations")
    data = orjson.loads(await response.get_data())
    assert [c["id"] for c in data["items"]] == [b[0].id, a[0].id]  # b was active last
    assert data["items"][1]["request_count"] == 3
    assert data["items"][1]["title"] == "refactor the parser"
    one = orjson.loads(await (await api.client.get("/api/conversations?limit=1")).get_data())
    assert [c["id"] for c in one["items"]] == [b[0].id] and one["next_cursor"]
    two = await api.client.get(f"/api/conversations?limit=1&cursor={one['next_cursor']}")
    assert [c["id"] for c in orjson.loads(await two.get_data())["items"]] == [a[0].id]
    only_a = await api.client.get("/api/conversations?account=acct-a")
    assert [c["id"] for c in orjson.loads(await only_a.get_data())["items"]] == [a[0].id]


async def test_tree_lists_nodes_with_their_links_and_branches(api: Api) -> None:
    a, _ = await seed(api)
    response = await api.client.get(f"/api/conversations/{a[0].id}")
    assert response.status_code == 200
    tree = orjson.loads(await response.get_data())
    assert tree["id"] == a[0].id and tree["summary"]["id"] == a[0].id
    nodes = tree["nodes"]
    assert [n["id"] for n in nodes] == [r.id for r in a]
    assert [n["parent_request_id"] for n in nodes] == [None, a[0].id, a[1].id]
    assert {n["traffic_class"] for n in nodes} == {"turn"}
    assert {n["branch"] for n in nodes} == {"main"}
    assert nodes[1]["user_preview"] == "now add tests"
    assert [b["name"] for b in tree["branches"]] == ["main"]
    assert tree["subtasks"] == []


async def test_unknown_conversation_is_404(api: Api) -> None:
    response = await api.client.get("/api/conversations/nope")
    assert response.status_code == 404
    assert orjson.loads(await response.get_data())["error"]["type"] == "not_found_error"


async def test_conversation_list_rejects_bad_parameters(api: Api) -> None:
    response = await api.client.get("/api/conversations?limit=9999")
    assert response.status_code == 400
    assert orjson.loads(await response.get_data())["error"]["parameter"] == "limit"


async def test_search_matches_every_request_of_a_conversation(api: Api) -> None:
    """``q`` finds a word said in a middle turn: neither the title nor the last prompt."""
    a, b = await seed(api)
    for q, expected in [("tests", [a[0].id]), ("faster", [b[0].id]), ("otters", [])]:
        response = await api.client.get("/api/conversations", query_string={"q": q})
        assert [c["id"] for c in orjson.loads(await response.get_data())["items"]] == expected, q
        count = await api.client.get("/api/conversations/count", query_string={"q": q})
        assert orjson.loads(await count.get_data()) == {"count": len(expected)}


async def test_a_filter_conversations_cannot_honour_is_refused_not_ignored(api: Api) -> None:
    await seed(api)
    for path in ("/api/conversations", "/api/conversations/count"):
        response = await api.client.get(path + "?status=5xx")
        assert response.status_code == 400
        error = orjson.loads(await response.get_data())["error"]
        assert error["parameter"] == "status" and "single status" in error["message"]
    doc = orjson.loads(await (await api.client.get("/api/openapi.json")).get_data())
    names = {p["name"] for p in doc["paths"]["/api/conversations"]["get"]["parameters"]}
    assert "status" not in names and "q" in names
