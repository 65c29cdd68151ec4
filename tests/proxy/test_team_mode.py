"""Team mode through a running Nexus: client keys in, the account's secret out, secrets never stored."""

from __future__ import annotations

import os

import httpx
import orjson

from nexus.records import RequestFilter
from tests.factories import oauth_credentials

BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}
CLIENT_KEY = "cnp_live_teamkey0123456789abcdefghij"
ACCOUNT_SECRET = "sk-ant-api03-account-secret-000000000000"
OAUTH_TOKEN = "sk-ant-oat01-account-access-token-0000000"


def write_credentials(directory, host: str, data: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{host}.credentials.json"
    path.write_bytes(orjson.dumps(data))
    os.chmod(path, 0o600)


async def post(server, **kwargs):
    async with httpx.AsyncClient() as client:
        return await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY, **kwargs)


async def test_api_key_account_swaps_the_client_key_for_the_accounts_key(
    start_nexus, fake_upstream, tmp_path
):
    server = await start_nexus()
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_credentials(tmp_path / "credentials", host, {
        "type": "api_key", "accountId": "acct-team", "api_key": ACCOUNT_SECRET, "client_api_key": CLIENT_KEY,
    })  # fmt: skip
    ok = await post(server, headers={"x-api-key": CLIENT_KEY})
    bearer = await post(server, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    wrong = await post(server, headers={"x-api-key": "cnp_live_wrong"})
    missing = await post(server)
    assert ok.status_code == 200 and bearer.status_code == 200
    for refused in (wrong, missing):
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        # Without it Claude Code retries a wrong or revoked key for minutes, saying nothing.
        assert refused.headers["x-should-retry"] == "false"
    assert len(fake_upstream.requests) == 2
    for seen in fake_upstream.requests:
        assert seen.header("x-api-key") == ACCOUNT_SECRET
        assert seen.header("authorization") is None
    await server.flush()
    rows = (await server.store.list_requests(RequestFilter(), None, 10)).items
    assert {r.account_id for r in rows if r.status == 200} == {"acct-team"}
    assert all(
        r.client_key_id and CLIENT_KEY not in r.client_key_id for r in rows if r.status == 200
    )
    database = (tmp_path / "nexus.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("nexus.db*")
    )
    assert CLIENT_KEY.encode() not in database and ACCOUNT_SECRET.encode() not in database


async def test_oauth_account_sends_bearer_and_merges_the_oauth_beta(
    start_nexus, fake_upstream, tmp_path
):
    server = await start_nexus()
    host = server.endpoints.proxy_url.removeprefix("http://")
    write_credentials(
        tmp_path / "credentials", host, oauth_credentials("acct-max", CLIENT_KEY, OAUTH_TOKEN)
    )
    response = await post(
        server,
        headers={
            "x-api-key": CLIENT_KEY,
            "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
        },
    )
    assert response.status_code == 200
    (seen,) = fake_upstream.requests
    assert seen.header("authorization") == f"Bearer {OAUTH_TOKEN}"
    assert seen.header("x-api-key") is None
    assert seen.header("anthropic-beta") == "claude-code-20250219,oauth-2025-04-20"
