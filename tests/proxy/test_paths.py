"""Through a real ``nexus serve``: only normalised paths under /v1/, /api/event_logging/ and the
preconnect probes go upstream; every escape is refused with a 400 before the team's credential is
attached; every spelling of a team host is the team host; a Host or body werkzeug or simdjson
cannot take is a recorded 400, not a 500 with a traceback."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from tests.fakes.serve_process import free_port, raw_http

CLIENT_KEY = "cnp_live_pathtest0123456789abcdefghij"
ACCOUNT_KEY = "sk-ant-api03-team-account-secret-0000000000"
BODY = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 5, "messages": []})

ESCAPES = [
    "/v1/../api/oauth/claude_cli/create_api_key",
    "/v1/%2e%2e/api/oauth/claude_cli/create_api_key",
    "/v1/%2E%2E/api/oauth/claude_cli/create_api_key",
    "/v1/..%2fapi/oauth/claude_cli/create_api_key",
    "/v1/..%2Fapi/oauth/claude_cli/create_api_key",
    "/v1/.%2e/api/oauth/claude_cli/create_api_key",
    "/v1/messages/../../api/oauth/claude_cli/create_api_key",
    "/v1/%252e%252e/api/oauth/claude_cli/create_api_key",
    "/v1/..%5capi/oauth/claude_cli/create_api_key",
    "/v1/..\\api/oauth/claude_cli/create_api_key",
    "/v1/./messages",
    "/v1//messages",
    "//v1/messages",
    "/v1/messages%00",
    "/v1/%c0%ae%c0%ae/api",
    "/api/oauth/claude_cli/create_api_key",
    "/api/event_logging/../../api/oauth/claude_cli/create_api_key",
    "http://evil.example/v1/messages",
    "/V1/messages",
    "/v1",
]


def request(
    target: str, host: str, *, method: str = "POST", body: bytes = BODY, key: str = CLIENT_KEY
) -> bytes:
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def team_files(tmp_path, *hosts: str) -> None:
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    for host in hosts:
        path = folder / f"{host}.credentials.json"
        path.write_bytes(orjson.dumps({
            "type": "api_key", "accountId": "acct-team", "api_key": ACCOUNT_KEY,
            "client_api_key": CLIENT_KEY,
        }))  # fmt: skip
        os.chmod(path, 0o600)


def anthropic_error(answer: bytes) -> dict:
    body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["type"] == "error"
    return body["error"]


async def test_no_escape_from_the_allowed_prefixes_reaches_the_upstream_with_the_teams_key(
    nexus_process, fake_upstream, tmp_path
):
    port = free_port()
    host = f"127.0.0.1:{port}"
    team_files(tmp_path, host)
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}", proxy_port=port)
    for target in ESCAPES:
        status, answer = await raw_http(nexus.proxy_url, request(target, host))
        assert status == 400, (target, answer)
        assert anthropic_error(answer)["type"] == "invalid_request_error"
    assert fake_upstream.requests == []  # nothing left Nexus, with or without a credential
    status, _ = await raw_http(nexus.proxy_url, request("/v1/messages?beta=true", host))
    assert status == 200  # team mode is on: the normal path still works, with the account's key
    (seen,) = fake_upstream.requests
    assert seen.header("x-api-key") == ACCOUNT_KEY and seen.target == "/v1/messages?beta=true"
    rows = await nexus.stored(len(ESCAPES) + 1)
    refused = [r for r in rows if r["status"] == 400]
    assert len(refused) == len(ESCAPES) and all(r["account_id"] is None for r in refused)


async def test_preconnect_probes_and_the_query_go_upstream_as_sent_and_are_recorded(
    nexus_process, fake_upstream, tmp_path
):
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}")
    host = nexus.proxy_url.removeprefix("http://")
    query = "/v1/models?limit=2&after_id=a%2Fb&q=c+d%20e&t=%7E~"
    for method, target in [("HEAD", "/api/hello"), ("HEAD", "/"), ("GET", query)]:
        status, _ = await raw_http(nexus.proxy_url, request(target, host, method=method, body=b""))
        assert status in (200, 404)  # whatever the upstream answered
    assert [(r.method, r.target) for r in fake_upstream.requests] == [
        ("HEAD", "/api/hello"), ("HEAD", "/"), ("GET", query),
    ]  # fmt: skip
    rows = await nexus.stored(3)
    assert sorted(r["path"] for r in rows) == ["/", "/api/hello", "/v1/models"]
    status, answer = await raw_http(nexus.proxy_url, request("/", host, method="GET", body=b""))
    assert status == 200 and b'"name":"nexus"' in answer  # GET / stays Nexus's own page


async def test_keyless_preconnect_probes_to_a_team_host_are_answered_here_not_refused(
    nexus_process, fake_upstream, tmp_path
):
    port = free_port()
    host = f"127.0.0.1:{port}"
    team_files(tmp_path, host)
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}", proxy_port=port)
    for method, target in [("HEAD", "/"), ("HEAD", "/api/hello"), ("GET", "/api/hello")]:
        probe = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nconnection: close\r\n\r\n"
        status, answer = await raw_http(nexus.proxy_url, probe.encode())
        assert status == 200, answer  # Claude Code's warm-up without a key (2.1.197 sends it)
        assert ACCOUNT_KEY.encode() not in answer
    # with a wrong key it is a refused call like any other, and a path that is no probe too
    wrong = request("/", host, method="HEAD", body=b"", key="cnp_live_wrong")
    assert (await raw_http(nexus.proxy_url, wrong))[0] == 401
    keyless = request("/v1/messages", host).replace(f"x-api-key: {CLIENT_KEY}\r\n".encode(), b"")
    assert (await raw_http(nexus.proxy_url, keyless))[0] == 401
    assert fake_upstream.requests == []  # nothing went upstream
    rows = await nexus.stored(2)
    await asyncio.sleep(0.5)  # a probe, had it been recorded, would be stored by now as well
    rows = await nexus.stored(2)
    assert sorted((r["method"], r["status"]) for r in rows) == [("HEAD", 401), ("POST", 401)]


@pytest.mark.parametrize(
    "spelling",
    ["team.example.", "TEAM.Example", "team.example.:80", "team.example:443", "Team.Example.:0443"],
)
async def test_every_spelling_of_a_team_host_is_team_mode(
    nexus_process, fake_upstream, tmp_path, spelling
):
    team_files(tmp_path, "team.example")
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}")
    status, _ = await raw_http(nexus.proxy_url, request("/v1/messages", spelling))
    refused, _ = await raw_http(
        nexus.proxy_url, request("/v1/messages", spelling, key="sk-ant-api03-personal-key-0000")
    )
    assert status == 200 and refused == 401
    (seen,) = fake_upstream.requests
    assert seen.header("x-api-key") == ACCOUNT_KEY  # never the client's own key


@pytest.mark.parametrize(
    "host", ["..", ".", "a" * 64 + ".example", "x." * 130, "127.1", "0x7f.0.0.1", "2130706433"]
)
async def test_a_hostile_host_is_a_recorded_400_and_one_log_line(
    nexus_process, fake_upstream, tmp_path, host
):
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}")
    status, answer = await raw_http(nexus.proxy_url, request("/v1/messages", host))
    assert status == 400 and anthropic_error(answer)["type"] == "invalid_request_error"
    assert fake_upstream.requests == []
    (row,) = await nexus.stored(1)
    assert row["status"] == 400
    assert "Traceback" not in "".join(nexus.log)
    assert len([line for line in nexus.log if "Invalid Host header" in line]) == 1


async def test_json_nested_past_the_parsers_depth_is_a_recorded_400(
    nexus_process, fake_upstream, tmp_path
):
    nexus = await nexus_process(f"sqlite:///{tmp_path / 'nexus.db'}")
    host = nexus.proxy_url.removeprefix("http://")
    deep = b'{"messages":' + b"[" * 1100 + b"]" * 1100 + b"}"
    status, answer = await raw_http(nexus.proxy_url, request("/v1/messages", host, body=deep))
    assert status == 400 and "deep" in anthropic_error(answer)["message"]
    assert fake_upstream.requests == []
    (row,) = await nexus.stored(1)
    assert row["status"] == 400
    assert "Traceback" not in "".join(nexus.log)
