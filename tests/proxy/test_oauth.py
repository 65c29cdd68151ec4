"""OAuth wire protocol: PKCE, the authorize URL, code exchange and refresh against a fake server."""

from __future__ import annotations

import base64
import hashlib
import socket
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from nexus.errors import CredentialError
from nexus.proxy import oauth
from tests.fakes.oauth import SECRET_MARK, FakeOAuth

NOW_MS = 1_700_000_000_000


async def approve(fake: FakeOAuth, url: str) -> str:
    """Play the user's browser: open the authorize URL, return what the page shows."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.text()


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    pkce = oauth.new_pkce()
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert pkce.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pkce.verifier) <= 128
    assert oauth.new_pkce().verifier != pkce.verifier


def test_authorize_url_carries_client_scopes_redirect_and_challenge() -> None:
    pkce = oauth.new_pkce()
    url = oauth.authorize_url("https://claude.ai/oauth/authorize", pkce)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "claude.ai"
    assert query == {
        "code": "true",
        "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "response_type": "code",
        "redirect_uri": "https://console.anthropic.com/oauth/code/callback",
        "scope": "org:create_api_key user:profile user:inference",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "state": pkce.state,
    }


def test_pasted_code_with_another_state_is_refused() -> None:
    pkce = oauth.new_pkce()
    assert oauth.parse_pasted_code(f"  abc#{pkce.state}\n", pkce) == "abc"
    assert oauth.parse_pasted_code("abc", pkce) == "abc"
    with pytest.raises(CredentialError, match="state mismatch"):
        oauth.parse_pasted_code("abc#other", pkce)
    with pytest.raises(CredentialError):
        oauth.parse_pasted_code("#x", pkce)


async def test_code_exchange_returns_tokens_scopes_and_expiry(fake_oauth: FakeOAuth) -> None:
    pkce = oauth.new_pkce()
    pasted = await approve(fake_oauth, oauth.authorize_url(fake_oauth.authorize_url, pkce))
    code = oauth.parse_pasted_code(pasted, pkce)
    async with aiohttp.ClientSession() as http:
        tokens = await oauth.exchange_code(http, fake_oauth.token_url, code, pkce, now_ms=NOW_MS)
    assert tokens.access_token.startswith("sk-ant-oat01-")
    assert tokens.refresh_token is not None
    assert tokens.expires_at_ms == NOW_MS + 3600 * 1000
    assert tokens.scopes == ("user:inference", "user:profile")
    assert tokens.account_email == "dev@example.com"
    assert fake_oauth.exchange_count == 1
    assert fake_oauth.calls[0].body["code_verifier"] == pkce.verifier


async def test_code_exchange_with_the_wrong_verifier_fails(fake_oauth: FakeOAuth) -> None:
    pkce = oauth.new_pkce()
    pasted = await approve(fake_oauth, oauth.authorize_url(fake_oauth.authorize_url, pkce))
    other = oauth.Pkce(verifier=oauth.new_pkce().verifier, challenge="", state=pkce.state)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(CredentialError, match="invalid_grant"):
            await oauth.exchange_code(
                http, fake_oauth.token_url, pasted.split("#")[0], other, now_ms=NOW_MS
            )


async def test_refresh_rotates_the_refresh_token(fake_oauth: FakeOAuth) -> None:
    seed = fake_oauth.issue_refresh_token()
    async with aiohttp.ClientSession() as http:
        first = await oauth.refresh_tokens(http, fake_oauth.token_url, seed, now_ms=NOW_MS)
        assert first.refresh_token not in (None, seed)
        with pytest.raises(CredentialError) as refused:
            await oauth.refresh_tokens(http, fake_oauth.token_url, seed, now_ms=NOW_MS)
    assert "invalid_grant" in refused.value.message
    assert SECRET_MARK not in refused.value.message
    assert fake_oauth.calls[0].body == {
        "grant_type": "refresh_token",
        "refresh_token": seed,
        "client_id": oauth.CLIENT_ID,
    }


async def test_unreachable_token_endpoint_is_a_credential_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(CredentialError, match="could not be reached"):
            await oauth.refresh_tokens(http, f"http://127.0.0.1:{port}/t", "rt", now_ms=NOW_MS)


async def test_slow_token_endpoint_times_out(fake_oauth: FakeOAuth) -> None:
    release = fake_oauth.hold()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(CredentialError, match="TimeoutError"):
            await oauth.refresh_tokens(
                http, fake_oauth.token_url, "rt", now_ms=NOW_MS, timeout_s=0.2
            )
    release.set()
