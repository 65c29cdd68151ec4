"""Credentials: host keys, pass-through and team mode, client keys, caching, token refresh."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus.errors import ClientAuthError, CredentialError, RequestRejected
from nexus.proxy import credentials as credentials_module
from nexus.proxy import grants as grants_module
from nexus.proxy.credential_files import credential_path, host_key, lock_path
from nexus.proxy.credentials import Credentials, Grant
from tests.fakes.oauth import SECRET_MARK, FakeOAuth

CLIENT_KEY = "cnp_live_client-key-for-tests"
API_KEY = f"sk-ant-api03-{SECRET_MARK}-account-key"
HOST = "localhost:3000"


def write(directory: Path, key: str, data: dict[str, Any], mode: int = 0o600) -> Path:
    path = credential_path(directory, key)
    path.write_text(json.dumps(data))
    path.chmod(mode)
    return path


def oauth_file(refresh_token: str, expires_at_ms: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "oauth",
        "accountId": "acc_team",
        "client_api_key": CLIENT_KEY,
        "oauth": {
            "accessToken": f"sk-ant-oat01-{SECRET_MARK}-old",
            "refreshToken": refresh_token,
            "expiresAt": expires_at_ms,
            "scopes": ["user:inference"],
        },
        **extra,
    }


def bearer(grant: Grant) -> str:
    return dict(grant.set_headers)["authorization"].removeprefix("Bearer ")


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
async def creds(tmp_path: Path, fake_oauth: FakeOAuth) -> AsyncIterator[Credentials]:
    credentials = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=0)
    yield credentials
    await credentials.close()


# --- host keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("localhost:3000", "localhost:3000"),
        ("LOCALHOST:3000", "localhost:3000"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:3000", "[::1]:3000"),
        ("[0:0::1]", "[::1]"),
        ("Nexus.Example.com:443", "nexus.example.com"),
        ("nexus.example.com", "nexus.example.com"),
        ("nexus.example.com.", "nexus.example.com"),
        ("Nexus.Example.COM.:80", "nexus.example.com"),
        ("localhost.:03000", "localhost:3000"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("127.0.0.1.:443", "127.0.0.1"),
        ("[::1]:0443", "[::1]"),
    ],
)
def test_host_key_keeps_the_port_only_for_localhost_and_ip_literals(host: str, key: str) -> None:
    assert host_key(host) == key


@pytest.mark.parametrize(
    "host",
    [
        "",
        "../etc/passwd",
        "..",
        "a..b",
        "a/b",
        "/etc/passwd",
        "evil.com\\x",
        "a b",
        "host\x00",
        "%2e%2e",
        ".hidden",
        "-rf",
        ":3000",
        "a:b:c",
        "localhost:99999",
        "localhost:",
        "localhost:3000/x",
        "[::1",
        "[not-ip]:3000",
        "[::1]:70000",
        "x" * 300,
        ".",
        "a" * 64 + ".example",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "127.000.000.001",
    ],
)
def test_hostile_host_names_are_refused_with_400(host: str) -> None:
    with pytest.raises(RequestRejected) as refused:
        host_key(host)
    assert refused.value.status == 400


@given(st.text(max_size=80))
def test_no_accepted_host_names_a_path_outside_the_folder(host: str) -> None:
    folder = Path("/srv/credentials")
    try:
        key = host_key(host)
    except RequestRejected:
        return
    path = credential_path(folder, key)
    assert path.parent == folder
    assert os.path.normpath(path) == str(path)
    assert "/" not in key and ".." not in key


async def test_a_hostile_host_opens_no_file(tmp_path: Path, creds: Credentials) -> None:
    opened: list[str] = []
    watching = True

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if watching and event in ("open", "os.listdir", "os.scandir"):
            opened.append(str(args[0]))

    sys.addaudithook(audit)  # hooks cannot be removed; ``watching`` switches this one off
    try:
        for host in ("../../etc/passwd", "..", "a/../../b", "x\x00y"):
            with pytest.raises(RequestRejected):
                await creds.grant(host, {"x-api-key": "k"})
    finally:
        watching = False
    assert opened == []


# --- pass-through and team mode ------------------------------------------------------------------


async def test_no_file_means_pass_through_untouched(creds: Credentials) -> None:
    grant = await creds.grant(HOST, {"x-api-key": "sk-ant-client-own"})
    assert grant.auth_mode == "passthrough"
    assert grant.set_headers == ()
    assert grant.drop_headers == frozenset()
    assert grant.extra_betas == ()
    assert grant.account_id is None
    assert grant.client_key_id is not None and grant.client_key_id.startswith("ck_")
    assert "sk-ant-client-own" not in repr(grant)
    assert (await creds.grant(HOST, {})).client_key_id is None


async def test_api_key_account_replaces_the_client_key(tmp_path: Path, creds: Credentials) -> None:
    write(
        tmp_path,
        HOST,
        {"type": "api_key", "accountId": "acc_1", "api_key": API_KEY, "client_api_key": CLIENT_KEY},
    )
    for headers in ({"x-api-key": CLIENT_KEY}, {"authorization": f"Bearer {CLIENT_KEY}"}):
        grant = await creds.grant(HOST, headers)
        assert grant.auth_mode == "api_key"
        assert grant.account_id == "acc_1"
        assert grant.set_headers == (("x-api-key", API_KEY),)
        assert grant.drop_headers == {"x-api-key", "authorization"}
        assert grant.extra_betas == ()
        assert grant.client_key_id is not None and CLIENT_KEY not in grant.client_key_id
    assert API_KEY not in repr(grant)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "cnp_live_wrong"},
        {"authorization": "Bearer nope"},
        {"authorization": CLIENT_KEY},
        {"x-api-key": CLIENT_KEY[:-1]},
    ],
)
async def test_team_mode_without_the_client_key_is_401(
    tmp_path: Path, creds: Credentials, headers: dict[str, str]
) -> None:
    write(tmp_path, HOST, {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY})
    with pytest.raises(ClientAuthError) as refused:
        await creds.grant(HOST, headers)
    assert refused.value.status == 401
    assert API_KEY not in refused.value.message and CLIENT_KEY not in refused.value.message


async def test_a_file_without_client_key_refuses_and_names_the_fix(
    tmp_path: Path, creds: Credentials
) -> None:
    write(tmp_path, HOST, {"type": "api_key", "api_key": API_KEY})
    with pytest.raises(ClientAuthError, match=f"nexus auth add-client {HOST}"):
        await creds.grant(HOST, {"x-api-key": "anything"})


async def test_client_keys_are_compared_in_constant_time(
    tmp_path: Path, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, HOST, {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY})
    compared: list[tuple[bytes, bytes]] = []
    real = grants_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(grants_module.hmac, "compare_digest", spy)
    await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    with pytest.raises(ClientAuthError):
        await creds.grant(HOST, {"x-api-key": "cnp_live_other"})
    assert compared == [
        (CLIENT_KEY.encode(), CLIENT_KEY.encode()),
        (b"cnp_live_other", CLIENT_KEY.encode()),
    ]


async def test_oauth_account_sends_bearer_and_the_oauth_beta(
    tmp_path: Path, creds: Credentials
) -> None:
    write(tmp_path, HOST, oauth_file("rt", now_ms() + 3_600_000))
    grant = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert grant.auth_mode == "oauth"
    assert grant.set_headers == (("authorization", f"Bearer sk-ant-oat01-{SECRET_MARK}-old"),)
    assert grant.extra_betas == ("oauth-2025-04-20",)
    assert grant.credential_key == HOST


async def test_an_invalid_file_is_a_401_naming_the_host_not_its_content(
    tmp_path: Path, creds: Credentials
) -> None:
    credential_path(tmp_path, HOST).write_text('{"type": "oauth", "api_key": "' + API_KEY)
    with pytest.raises(CredentialError, match=HOST) as refused:
        await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert refused.value.status == 401 and API_KEY not in refused.value.message


# --- caching -------------------------------------------------------------------------------------


async def test_files_are_parsed_once_and_reread_when_they_change(
    tmp_path: Path, fake_oauth: FakeOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = credentials_module.read_credential_file

    def counting(path: Path, key: str) -> Any:
        reads.append(key)
        return real(path, key)

    monkeypatch.setattr(credentials_module, "read_credential_file", counting)
    path = write(
        tmp_path, HOST, {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY}
    )
    creds = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=0)
    for _ in range(100):
        await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert reads == [HOST]

    write(
        tmp_path,
        HOST,
        {
            "type": "api_key",
            "api_key": "sk-ant-api03-second",
            "client_api_key": CLIENT_KEY,
            "padding": "changes the size",
        },
    )
    grant = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert grant.set_headers == (("x-api-key", "sk-ant-api03-second"),)
    assert reads == [HOST, HOST]

    path.unlink()
    assert (await creds.grant(HOST, {"x-api-key": CLIENT_KEY})).auth_mode == "passthrough"
    await creds.close()


async def test_within_the_recheck_interval_the_disk_is_not_touched(
    tmp_path: Path, fake_oauth: FakeOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, HOST, {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY})
    creds = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=3600)
    await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    stats: list[Path] = []
    real_stat = Path.stat

    def counting_stat(self: Path, **kwargs: Any) -> os.stat_result:
        stats.append(self)
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", counting_stat)
    for _ in range(100):
        await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
        await creds.grant("other.example.com", {})
    assert stats == [credential_path(tmp_path, "other.example.com")]
    await creds.close()


async def test_grant_costs_microseconds(tmp_path: Path, fake_oauth: FakeOAuth) -> None:
    write(tmp_path, HOST, oauth_file("rt", now_ms() + 3_600_000))
    creds = Credentials(tmp_path, token_url=fake_oauth.token_url)
    headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    await creds.grant(HOST, headers)
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        await creds.grant(HOST, headers)
    per_call_us = (time.perf_counter() - started) / calls * 1e6
    assert per_call_us < 50, per_call_us  # typically ~3 µs; generous for a shared CPU
    await creds.close()


# --- refresh -------------------------------------------------------------------------------------


async def test_token_is_refreshed_before_it_expires_and_written_back(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    seed = fake_oauth.issue_refresh_token()
    path = write(tmp_path, HOST, oauth_file(seed, now_ms() + 60_000, note="kept"))
    grant = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert fake_oauth.refresh_count == 1
    assert bearer(grant).startswith(f"sk-ant-oat01-{SECRET_MARK}-")
    assert bearer(grant) != f"sk-ant-oat01-{SECRET_MARK}-old"

    saved = json.loads(path.read_text())
    assert saved["oauth"]["accessToken"] == bearer(grant)
    assert saved["oauth"]["refreshToken"] not in (seed, None)
    assert saved["oauth"]["expiresAt"] > now_ms() + 3_000_000
    assert saved["client_api_key"] == CLIENT_KEY
    assert saved["accountId"] == "acc_team" and saved["note"] == "kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, lock_path(path).name]

    await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert fake_oauth.refresh_count == 1


async def test_a_token_far_from_expiry_is_not_refreshed(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() + 3_600_000))
    await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert fake_oauth.calls == []


async def test_twenty_concurrent_requests_during_expiry_cause_one_refresh(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() - 1000))
    locked: list[Path] = []
    real_lock = credentials_module.file_lock_async

    def spy_lock(path: Path) -> Any:
        locked.append(path)
        return real_lock(path)

    monkeypatch.setattr(credentials_module, "file_lock_async", spy_lock)
    release = fake_oauth.hold()
    pending = asyncio.gather(*(creds.grant(HOST, {"x-api-key": CLIENT_KEY}) for _ in range(20)))
    await fake_oauth.wait_for_calls(1)
    release.set()
    grants = await pending
    assert fake_oauth.refresh_count == 1
    assert len(locked) == 1  # the others awaited the one refresh task, not the file lock
    assert len({bearer(g) for g in grants}) == 1
    assert bearer(grants[0]) != f"sk-ant-oat01-{SECRET_MARK}-old"


async def test_failed_refresh_of_an_expired_token_is_a_clear_401(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() - 1000))
    fake_oauth.fail_next()
    with pytest.raises(CredentialError) as refused:
        await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    message = refused.value.message
    assert refused.value.status == 401
    assert "acc_team" in message and f"nexus auth login {HOST}" in message
    assert "invalid_grant" in message
    # the next request within the back-off gets the same answer without hammering the endpoint
    with pytest.raises(CredentialError, match="acc_team"):
        await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert fake_oauth.refresh_count == 1
    assert SECRET_MARK not in caplog.text and CLIENT_KEY not in caplog.text


async def test_failed_refresh_of_a_still_valid_token_keeps_serving_it(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() + 60_000))
    fake_oauth.fail_next(status=500, error="server_error")
    grant = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert bearer(grant) == f"sk-ant-oat01-{SECRET_MARK}-old"
    await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert fake_oauth.refresh_count == 1


async def test_upstream_401_forces_one_refresh_and_a_retry(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() + 3_600_000))
    old = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert await creds.on_upstream_unauthorized(old) is True
    new = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert bearer(new) != bearer(old)
    assert fake_oauth.refresh_count == 1
    # a late 401 for the old token: the new one is already there, no second refresh
    assert await creds.on_upstream_unauthorized(old) is True
    # the fresh token refused as well: retrying cannot help, and no refresh loop starts
    assert await creds.on_upstream_unauthorized(new) is False
    assert fake_oauth.refresh_count == 1


async def test_concurrent_upstream_401s_share_one_refresh(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() + 3_600_000))
    old = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    release = fake_oauth.hold()
    pending = asyncio.gather(*(creds.on_upstream_unauthorized(old) for _ in range(10)))
    await fake_oauth.wait_for_calls(1)
    release.set()
    assert await pending == [True] * 10
    assert fake_oauth.refresh_count == 1


async def test_failed_refresh_after_401_names_account_and_fix(
    tmp_path: Path, creds: Credentials, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() + 3_600_000))
    old = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    fake_oauth.fail_next()
    with pytest.raises(CredentialError, match=f"acc_team.*nexus auth login {HOST}"):
        await creds.on_upstream_unauthorized(old)


async def test_api_key_grants_are_not_retried_after_401(tmp_path: Path, creds: Credentials) -> None:
    write(tmp_path, HOST, {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY})
    grant = await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    assert await creds.on_upstream_unauthorized(grant) is False
    assert await creds.on_upstream_unauthorized(await creds.grant("x.example", {})) is False


async def test_two_instances_sharing_a_file_refresh_once(
    tmp_path: Path, fake_oauth: FakeOAuth
) -> None:
    """Separate open file descriptions contend for flock even inside one process."""
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() - 1000))
    first = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=0)
    second = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=0)
    release = fake_oauth.hold()
    one = asyncio.gather(first.grant(HOST, {"x-api-key": CLIENT_KEY}))
    await fake_oauth.wait_for_calls(1)
    waiting = asyncio.Event()
    handler = _EventHandler("waiting for the lock", waiting)
    logging.getLogger("nexus.credentials").addHandler(handler)
    logging.getLogger("nexus.credentials").setLevel(logging.DEBUG)
    two = asyncio.gather(second.grant(HOST, {"x-api-key": CLIENT_KEY}))
    try:
        await asyncio.wait_for(waiting.wait(), 10)
    finally:
        logging.getLogger("nexus.credentials").removeHandler(handler)
        logging.getLogger("nexus.credentials").setLevel(logging.NOTSET)
        release.set()
        [a], [b] = await one, await two
    assert fake_oauth.refresh_count == 1
    assert bearer(a) == bearer(b)
    await first.close()
    await second.close()


async def test_two_processes_sharing_a_file_refresh_once(
    tmp_path: Path, fake_oauth: FakeOAuth
) -> None:
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), now_ms() - 1000))
    release = fake_oauth.hold()
    first = await start_granting(tmp_path, fake_oauth.token_url)
    second = None
    try:
        await fake_oauth.wait_for_calls(1)  # the first process holds the lock, its refresh waits
        second = await start_granting(tmp_path, fake_oauth.token_url)
        assert second.stderr is not None
        await asyncio.wait_for(read_until(second.stderr, b"waiting for the lock"), 10)
    finally:
        release.set()
        out_a, _ = await asyncio.wait_for(first.communicate(), 30)
        out_b, _ = await asyncio.wait_for(second.communicate(), 30) if second else (b"", b"")
    assert (first.returncode, second.returncode) == (0, 0)
    assert fake_oauth.refresh_count == 1
    assert out_a == out_b and out_a.startswith(b"ck_")


async def test_loose_permissions_are_warned_about(
    tmp_path: Path, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "tight.example", {"type": "api_key", "api_key": API_KEY})
    loose = write(tmp_path, "loose.example", {"type": "api_key", "api_key": API_KEY}, mode=0o644)
    warnings = creds.warn_loose_permissions()
    assert len(warnings) == 1 and str(loose) in warnings[0] and "644" in warnings[0]
    assert str(loose) in caplog.text and API_KEY not in caplog.text


# --- helpers for the lock tests ----------------------------------------------------------------

_CHILD = """
import asyncio, logging, sys
from pathlib import Path
from nexus.proxy.credentials import Credentials
from nexus.proxy.credential_files import client_key_id

async def main():
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    creds = Credentials(Path(sys.argv[1]), token_url=sys.argv[2], recheck_s=0)
    grant = await creds.grant("localhost:3000", {"x-api-key": sys.argv[3]})
    print(client_key_id(dict(grant.set_headers)["authorization"]), end="")
    await creds.close()

asyncio.run(main())
"""


async def start_granting(directory: Path, token_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(directory),
        token_url,
        CLIENT_KEY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )


async def read_until(stream: asyncio.StreamReader, needle: bytes) -> None:
    while needle not in await stream.readline():
        if stream.at_eof():
            raise AssertionError(f"{needle!r} never logged")


class _EventHandler(logging.Handler):
    def __init__(self, needle: str, event: asyncio.Event) -> None:
        super().__init__(logging.DEBUG)
        self.needle, self.event = needle, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.event.set()


# --- through the running proxy -----------------------------------------------------------------


async def team_server(
    start_nexus: Any, fake_oauth: FakeOAuth, data: Callable[[], dict[str, Any]]
) -> Any:
    server = await start_nexus(oauth_token_url=fake_oauth.token_url)
    folder = server.settings.credentials_dir
    folder.mkdir(exist_ok=True)
    proxy_url = server.endpoints.proxy_url
    write(folder, proxy_url.removeprefix("http://"), data())
    return server, proxy_url


async def test_proxy_swaps_the_client_key_for_the_token_and_retries_after_401(
    start_nexus: Any, fake_upstream: Any, fake_oauth: FakeOAuth
) -> None:
    from tests.fakes.upstream import Reply

    seed = fake_oauth.issue_refresh_token()
    server, url = await team_server(
        start_nexus, fake_oauth, lambda: oauth_file(seed, now_ms() + 3_600_000)
    )
    fake_upstream.script(Reply(status=401, error_type="authentication_error"), Reply(text="ok"))
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "a-1"}
    async with httpx.AsyncClient() as client:
        answer = await client.post(url + "/v1/messages", json=body, headers=headers)
        refused = await client.post(url + "/v1/messages", json=body, headers={"x-api-key": "bad"})
    assert answer.status_code == 200, answer.text
    assert fake_oauth.refresh_count == 1
    first, second = fake_upstream.requests
    assert first.header("authorization") == f"Bearer sk-ant-oat01-{SECRET_MARK}-old"
    assert second.header("authorization") not in (None, first.header("authorization"))
    for seen in (first, second):
        assert seen.header("x-api-key") is None
        assert seen.header("anthropic-beta") == "a-1,oauth-2025-04-20"
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert len(fake_upstream.requests) == 2
    await server.flush()
    from nexus.records import RequestFilter

    page = await server.store.list_requests(RequestFilter(), None, 50)
    for row in page.items:
        stored = await server.store.get_request(row.id)
        text = repr(stored)
        assert SECRET_MARK not in text and CLIENT_KEY not in text
        assert row.account_id in ("acc_team", None)


async def test_proxy_answers_a_failed_refresh_with_a_clear_401(
    start_nexus: Any, fake_upstream: Any, fake_oauth: FakeOAuth
) -> None:
    server, url = await team_server(
        start_nexus, fake_oauth, lambda: oauth_file("rt-unknown", now_ms() - 1000)
    )
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            url + "/v1/messages", json=body, headers={"x-api-key": CLIENT_KEY}
        )
    assert answer.status_code == 401
    error = answer.json()["error"]
    host = url.removeprefix("http://")
    assert error["type"] == "authentication_error"
    assert "acc_team" in error["message"] and f"nexus auth login {host}" in error["message"]
    assert fake_upstream.requests == []
