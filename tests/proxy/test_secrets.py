"""Through a real ``nexus serve``: secrets outside the header-name rule never reach the spool, the
database, the API, an export or the log: custom auth headers, keys in the query, the upstream's
``set-cookie``, and a token endpoint that echoes the refresh token in its error."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx
import orjson

from tests.fakes.serve_process import free_port
from tests.fakes.upstream import Reply

CLIENT_KEY = "cnp_live_secretstest0123456789abcdefgh"
CUSTOM_AUTH = "custom-gateway-auth-value-9f8e7d6c5b4a"
QUERY_KEY = "query-api-key-value-0a1b2c3d4e5f"
SHAPED_KEY = "sk-ant-api03-shaped-in-query-000000000000"
COOKIE = "upstream-session-cookie-5e4d3c2b1a00"
FORWARDED_BEARER = "forwarded-bearer-token-abcdefghijklmnop"
BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


async def export(db: str, fmt: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "DATABASE_URL"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nexus", "export", "--db", db, "--format", fmt,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


def files_under(*folders) -> bytes:
    return b"".join(p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file())


async def test_secrets_outside_the_header_name_rule_are_stored_and_served_nowhere(
    nexus_process, fake_upstream, fake_oauth, tmp_path
):
    port = free_port()
    refresh = fake_oauth.issue_refresh_token()
    folder = tmp_path / "credentials"
    folder.mkdir()
    team = folder / "team.example.credentials.json"
    team.write_bytes(orjson.dumps({
        "type": "oauth", "accountId": "acct-max", "client_api_key": CLIENT_KEY,
        "oauth": {"accessToken": "sk-ant-oat01-expired-access-token-00000", "refreshToken": refresh,
                  "scopes": ["user:inference"], "expiresAt": int((time.time() - 60) * 1000)},
    }))  # fmt: skip
    os.chmod(team, 0o600)
    fake_oauth.fail_next(description=f"refresh token {refresh} is not valid")  # echoes it
    db = tmp_path / "nexus.db"
    nexus = await nexus_process(
        f"sqlite:///{db}", proxy_port=port,
        extra_env={"NEXUS_OAUTH_TOKEN_URL": fake_oauth.token_url},
    )  # fmt: skip
    fake_upstream.script(Reply(text="ok", headers=(("set-cookie", f"session={COOKIE}; Path=/"),)))
    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.post(
            nexus.proxy_url + "/v1/messages",
            json=BODY,
            headers={"host": "team.example", "x-api-key": CLIENT_KEY},
        )
        passed = await client.post(
            nexus.proxy_url + f"/v1/messages?beta=true&api_key={QUERY_KEY}&k2={SHAPED_KEY}",
            json=BODY,
            headers={
                "x-api-key": "sk-ant-api03-personal-client-key-000000",
                "x-custom-auth": CUSTOM_AUTH,
                "x-upstream-hop": f"Bearer {FORWARDED_BEARER}",
            },
        )
    assert refused.status_code == 401 and refresh not in refused.text
    assert "refresh token" in refused.json()["error"]["message"]  # the reason is still there
    assert passed.status_code == 200 and COOKIE in passed.headers["set-cookie"]  # client gets it
    rows = await nexus.stored(2)
    secrets = [refresh, CUSTOM_AUTH, QUERY_KEY, SHAPED_KEY, COOKIE, FORWARDED_BEARER, CLIENT_KEY]
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [(await client.get(nexus.api_url + "/api/requests")).text]
        for row in rows:
            answers.append((await client.get(nexus.api_url + f"/api/requests/{row['id']}")).text)
    (stored,) = [r for r in rows if r["status"] == 200]
    detail = orjson.loads(answers[1 + rows.index(stored)])
    assert detail["request"]["query"].startswith("beta=true&api_key=[redacted]")
    stored_files = files_under(tmp_path / "data") + b"".join(
        p.read_bytes() for p in tmp_path.glob("nexus.db*")
    )
    exports = [await export(f"sqlite:///{db}", fmt) for fmt in ("jsonl", "har")]
    log = "".join(nexus.log)
    assert "token endpoint refused" in log
    for secret in secrets:
        assert secret.encode() not in stored_files, secret
        assert not [a for a in answers if secret in a], secret
        assert not [e for e in exports if secret in e], secret
        assert secret not in log, secret
