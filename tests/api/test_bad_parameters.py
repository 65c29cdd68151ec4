"""Through a real ``nexus serve`` on each store: a bad parameter is a 400 naming it (never a 500
or a "database unavailable"), and the ``model`` filter takes ``%`` and ``_`` literally."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.serve_process import raw_http

BAD = [
    ("/api/requests", {"limit": "²"}, "limit"),
    ("/api/requests", {"limit": "٣"}, "limit"),
    ("/api/requests", {"limit": "9" * 40}, "limit"),
    ("/api/requests", {"since": "9" * 40}, "since"),
    ("/api/requests", {"since": "9223372036854775808"}, "since"),
    ("/api/requests", {"since": "²"}, "since"),
    ("/api/requests", {"until": "999999999999999w"}, "until"),
    ("/api/requests/count", {"until": "9" * 25}, "until"),
    ("/api/requests", {"q": "a\x00b"}, "q"),
    ("/api/requests", {"model": "opus\x00"}, "model"),
    ("/api/requests", {"host": "\x00"}, "host"),
    ("/api/requests", {"session": "s\x00"}, "session"),
    ("/api/requests", {"account": "\x00"}, "account"),
    ("/api/requests", {"conversation_id": "\x00"}, "conversation_id"),
    ("/api/requests", {"cursor": "\x00"}, "cursor"),
    ("/api/conversations", {"q": "\x00"}, "q"),
    ("/api/conversations", {"cursor": "not-a-time:c1"}, "cursor"),  # the store cannot read it
    ("/api/requests/0123\x00abc", {}, "request_id"),
    ("/api/requests/0123\x00abc/raw", {}, "request_id"),
    ("/api/conversations/c\x00", {}, "conversation_id"),
    ("/api/events", {"after": "9" * 30}, "after"),
    ("/api/usage", {"utc_offset_ms": "²"}, "utc_offset_ms"),
    ("/api/usage", {"host": "\x00"}, "host"),
    ("/api/windows", {"account": "\x00"}, "account"),
    ("/api/analyses", {"conversation_id": "\x00"}, "conversation_id"),
]


@pytest.fixture
def database_url(serve_db_url):
    return serve_db_url  # asked for before nexus_process: it outlives it


async def test_bad_parameters_are_400s_naming_the_parameter(database_url, nexus_process):
    nexus = await nexus_process(database_url)
    async with httpx.AsyncClient(timeout=10) as client:
        for path, params, name in BAD:
            answer = await client.get(nexus.api_url + path.replace("\x00", "%00"), params=params)
            assert answer.status_code == 400, (path, params, answer.text)
            error = answer.json()["error"]
            assert error["type"] == "invalid_request_error" and error["parameter"] == name
        assert (await client.get(nexus.api_url + "/api/requests")).status_code == 200


async def test_the_model_filter_takes_percent_and_underscore_literally(database_url, nexus_process):
    nexus = await nexus_process(database_url)
    models = ["claude-opus-4-8", "claude-sonnet-4-5", "odd%model_1"]
    async with httpx.AsyncClient(timeout=10) as client:
        for model in models:
            body = {
                "model": model,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
            assert (await client.post(nexus.proxy_url + "/v1/messages", json=body)).is_success
        await nexus.stored(3)
        for value, expected in [("%", ["odd%model_1"]), ("_", ["odd%model_1"]),
                                ("opus", ["claude-opus-4-8"]), ("claude", models[:2])]:  # fmt: skip
            for path in ("/api/requests", "/api/conversations"):
                answer = await client.get(nexus.api_url + path, params={"model": value})
                assert answer.status_code == 200, answer.text
                if path == "/api/requests":
                    assert sorted(r["model"] for r in answer.json()["items"]) == expected, value


async def test_a_host_the_router_cannot_encode_is_a_403_not_a_500(database_url, nexus_process):
    nexus = await nexus_process(database_url)
    for host in ["..", ".", "a" * 64 + ".example"]:
        request = f"GET /api/requests HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        status, _ = await raw_http(nexus.api_url, request.encode())
        assert status == 403  # not local: the access check's answer, as for any foreign Host
    assert "Traceback" not in "".join(nexus.log)
