"""``/api/requests``: list, filters, search, paging, detail, raw bodies — on SQLite and Postgres."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from nexus.records import Link, Outcome, TrafficClass, Usage
from tests.factories import make_record
from tests.fakes.api_server import Api

T0 = 1_750_000_000_000


async def get_json(api: Api, path: str, status: int = 200) -> Any:
    response = await api.client.get(path)
    body = await response.get_data()
    assert response.status_code == status, body
    assert response.content_type.startswith("application/json")
    return orjson.loads(body)


async def ids_of(api: Api, query: str) -> list[str]:
    data = await get_json(api, f"/api/requests?limit=500&{query}")
    assert data["next_cursor"] is None
    return [item["id"] for item in data["items"]]


async def test_list_is_newest_first_with_summary_rows(api: Api) -> None:
    records = [make_record(started_at_ms=T0 + i) for i in range(3)]
    await api.write(records)
    data = await get_json(api, "/api/requests")
    assert [i["id"] for i in data["items"]] == [r.id for r in reversed(records)]
    item = data["items"][0]
    assert item["usage"]["output_tokens"] == 34
    assert item["user_preview"] == "fix the failing test"
    assert item["is_streaming"] is True and item["status"] == 200
    assert item["outcome"] == "complete" and item["traffic_class"] is None
    assert data["next_cursor"] is None


async def every_page(api: Api, query: str) -> list[str]:
    """The ids of ``/api/requests?<query>``, following ``next_cursor`` to the last page."""
    seen: list[str] = []
    cursor = ""
    while True:
        data = await get_json(api, f"/api/requests?{query}&cursor={cursor}")
        seen += [i["id"] for i in data["items"]]
        if data["next_cursor"] is None:
            return seen
        cursor = data["next_cursor"]


async def test_cursor_paging_visits_every_record_once(api: Api) -> None:
    records = [make_record(started_at_ms=T0 + i) for i in range(25)]
    await api.write(records)
    assert await every_page(api, "limit=7") == [r.id for r in reversed(records)]


async def test_paging_is_stable_while_new_records_arrive(api: Api) -> None:
    old = [make_record(started_at_ms=T0 + i) for i in range(10)]
    await api.write(old)
    first = await get_json(api, "/api/requests?limit=4")
    await api.write([make_record(started_at_ms=T0 + 100 + i) for i in range(5)])
    rest = await get_json(api, f"/api/requests?limit=500&cursor={first['next_cursor']}")
    pages = [i["id"] for i in first["items"]] + [i["id"] for i in rest["items"]]
    assert pages == [r.id for r in reversed(old)]


async def test_filters_return_exactly_the_matching_records(api: Api) -> None:
    a = make_record(started_at_ms=T0, host="team.example:3000", account_id="acct-a", status=200)
    b = make_record(started_at_ms=T0 + 1, model="claude-haiku-4-5", status=429, session_id="sess-1")
    c = make_record(started_at_ms=T0 + 2, status=529, account_id="acct-a", session_id="sess-1")
    d = make_record(
        started_at_ms=T0 + 3, status=None, outcome=Outcome.UPSTREAM_UNREACHABLE, error="refused"
    )
    await api.write([a, b, c, d])
    await api.store.write_links(
        [
            Link(a.id, TrafficClass.TURN, conversation_id=a.id),
            Link(b.id, TrafficClass.TITLE, conversation_id=a.id),
            Link(c.id, TrafficClass.TURN, conversation_id=c.id),
        ]
    )
    assert await ids_of(api, "host=team.example:3000") == [a.id]
    assert await ids_of(api, "account=acct-a") == [c.id, a.id]
    assert await ids_of(api, "model=haiku") == [b.id]
    assert await ids_of(api, "status=429") == [b.id]
    assert await ids_of(api, "status=4xx") == [b.id]
    assert await ids_of(api, "status=5xx") == [c.id]
    assert await ids_of(api, "status=error") == [d.id, c.id, b.id]
    assert await ids_of(api, "class=turn") == [c.id, a.id]
    assert await ids_of(api, "session=sess-1") == [c.id, b.id]
    assert await ids_of(api, f"conversation_id={a.id}") == [b.id, a.id]
    assert await ids_of(api, f"since={T0 + 1}&until={T0 + 3}") == [c.id, b.id]
    assert await ids_of(api, "since=2025-06-15T15:06:40.001Z") == [d.id, c.id, b.id]
    assert await ids_of(api, "account=acct-a&status=5xx") == [c.id]
    data = await get_json(api, "/api/requests/count?account=acct-a")
    assert data == {"count": 2}


async def test_search_finds_user_and_reply_text_only_where_it_is_new(api: Api) -> None:
    first = make_record(
        started_at_ms=T0,
        user_text="Please plan the database migration",
        reply_text="Here is a migration plan using Alembic",
    )
    later = make_record(
        started_at_ms=T0 + 1,
        history=[
            {"role": "user", "content": "Please plan the database migration"},
            {"role": "assistant", "content": [{"type": "text", "text": "plan"}]},
        ],
        user_text="now write the rollback script",
        reply_text="Rollback written.",
    )
    other = make_record(started_at_ms=T0 + 2, user_text="what is the weather", reply_text="sunny")
    await api.write([first, later, other])
    assert await ids_of(api, "q=migration") == [first.id]
    assert await ids_of(api, "q=alembic") == [first.id]  # assistant text, any case
    assert await ids_of(api, "q=rollback%20script") == [later.id]
    assert await ids_of(api, "q=rollback%20weather") == []  # every word must occur
    assert await ids_of(api, "q=be%20brief") == []  # <system-reminder> blocks are not indexed
    assert await ids_of(api, "q=weather&status=200") == [other.id]


@pytest.mark.parametrize(
    "q", ['"unbalanced', "a OR b", "NOT x", "x AND", "col:val", "(x", "*", "a & b | !c", "-x"]
)
async def test_search_treats_operator_syntax_as_plain_words(api: Api, q: str) -> None:
    await api.write([make_record(started_at_ms=T0, user_text="nothing to see")])
    from urllib.parse import quote

    data = await get_json(api, f"/api/requests?q={quote(q)}")
    assert data["items"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=abc", "status"),
        ("status=6xx", "status"),
        ("class=bogus", "class"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("since=yesterday", "since"),
        ("until=12:00", "until"),
    ],
)
async def test_bad_parameters_get_400_naming_the_parameter(
    api: Api, query: str, parameter: str
) -> None:
    data = await get_json(api, f"/api/requests?{query}", status=400)
    assert data["error"]["type"] == "invalid_request_error"
    assert data["error"]["parameter"] == parameter
    assert repr(parameter) in data["error"]["message"]


async def test_detail_has_headers_parsed_body_response_usage_ratelimit_and_links(api: Api) -> None:
    record = make_record(
        started_at_ms=T0,
        user_text="list the files",
        usage=Usage(input_tokens=5, output_tokens=7, cache_read_input_tokens=1000),
    )
    await api.write([record])
    await api.store.write_links([Link(record.id, TrafficClass.TURN, conversation_id=record.id)])
    data = await get_json(api, f"/api/requests/{record.id}")
    assert data["id"] == record.id
    assert ["x-api-key", "[redacted]"] in data["request"]["headers"]
    messages = data["request"]["body"]["messages"]
    assert messages[-1]["content"][1] == {"type": "text", "text": "list the files"}
    assert data["response"]["message"]["content"][0]["text"] == "Done: the test passes now."
    assert data["usage"]["cache_read_input_tokens"] == 1000
    assert data["ratelimit"] == [["anthropic-ratelimit-unified-5h-utilization", "0.25"]]
    assert data["links"]["traffic_class"] == "turn"
    assert data["links"]["conversation_id"] == record.id
    assert data["timing"]["ttfb_ms"] == 300
    assert "body_exact" not in data["request"]


async def test_exact_view_carries_bodies_byte_for_byte(api: Api) -> None:
    weird = b'{"model": "x",  "messages": [{"role":"user","content":"caf\\u00e9 \xc3\xa9"}]}'
    binary = b"\xff\xfe not utf-8"
    record = make_record(started_at_ms=T0, request_body=weird, response_body=binary)
    await api.write([record])
    data = await get_json(api, f"/api/requests/{record.id}?bodies=exact")
    assert data["request"]["body_exact"]["text"].encode() == weird
    import base64

    assert base64.b64decode(data["response"]["body_exact"]["base64"]) == binary


async def test_raw_and_sse_return_the_exact_bytes(api: Api) -> None:
    record = make_record(started_at_ms=T0)
    await api.write([record])
    raw = await api.client.get(f"/api/requests/{record.id}/raw")
    assert raw.content_type == "application/json"
    assert await raw.get_data() == record.exchange.request_body
    sse = await api.client.get(f"/api/requests/{record.id}/sse")
    assert sse.content_type.startswith("text/event-stream")
    assert await sse.get_data() == record.exchange.response_body


@pytest.mark.parametrize("suffix", ["", "/raw", "/sse"])
async def test_unknown_request_is_404_in_the_error_shape(api: Api, suffix: str) -> None:
    data = await get_json(api, f"/api/requests/0000{suffix}", status=404)
    assert data["error"]["type"] == "not_found_error"
    assert "0000" in data["error"]["message"]


async def test_unknown_route_and_health(api: Api) -> None:
    data = await get_json(api, "/api/nope", status=404)
    assert set(data["error"]) == {"type", "message"}
    assert (await get_json(api, "/health"))["status"] == "ok"


def _registered_routes(app: Any) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app answers, read from Quart's own url_map;
    ``static`` is Quart's, not the API's. HEAD and OPTIONS come with every route."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


async def test_openapi_document_describes_exactly_the_registered_routes(api: Api) -> None:
    """A route added without its entry in the document turns this red, and so does an entry
    for a route that is gone."""
    doc = await get_json(api, "/api/openapi.json")
    assert doc["openapi"].startswith("3.")
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == _registered_routes(api.app)
    assert ("post", "/api/analyses") in documented  # the analysis routes were once left out
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"] and op["responses"], path
            in_path = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), path
    names = {p["name"] for p in doc["paths"]["/api/requests"]["get"]["parameters"]}
    assert {"since", "status", "class", "q", "cursor", "limit"} <= names


async def test_a_route_without_an_openapi_entry_is_an_error_not_a_gap(api: Api) -> None:
    from nexus.api.routes.openapi import UndocumentedRoute, build_document

    async def undocumented() -> str:
        return "{}"

    api.app.add_url_rule("/api/new/<thing>", "new", undocumented, methods=["GET", "DELETE"])
    with pytest.raises(UndocumentedRoute, match="DELETE /api/new/<thing>, GET /api/new/<thing>"):
        build_document(api.app)


@pytest.mark.parametrize("limit", [1, 3, 500])
async def test_search_pages_are_exact_whatever_order_records_were_indexed_in(
    api: Api, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """SQLite walks the index in small chunks, newest-indexed first; records written late (a
    spool replay) sit out of order there. Pages must still be exact and newest first."""
    import nexus.store.sqlite.search

    monkeypatch.setattr(nexus.store.sqlite.search, "_FIRST_CHUNK", 2)
    records = [
        make_record(
            started_at_ms=T0 + i,
            user_text=("common " if i % 2 else "") + ("rare" if i in (1, 17, 30) else "word"),
            status=429 if i % 3 == 0 else 200,
        )
        for i in range(40)
    ]
    for batch in (records[20:], records[:5], records[10:20], records[5:10]):
        await api.write(batch)

    async def walk(query: str) -> list[str]:
        return await every_page(api, f"limit={limit}&{query}")

    newest_first = list(reversed(records))
    assert await walk("q=common") == [r.id for r in newest_first if "common" in r.user_preview]
    assert await walk("q=rare") == [r.id for r in newest_first if "rare" in r.user_preview]
    assert await walk("q=common&status=4xx") == [
        r.id for r in newest_first if "common" in r.user_preview and r.exchange.status == 429
    ]
    assert await walk("q=absent") == []
