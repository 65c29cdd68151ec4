"""OAuth for Claude Max accounts: PKCE, the authorize URL, and the two calls to the token endpoint.

This module owns the wire protocol only (what is sent to Anthropic's authorize and token
endpoints and how their answers are read). Where tokens live, when they are refreshed and who waits
for whom is ``nexus.proxy.credentials``'s business. Every failure of the token endpoint
(unreachable, timeout, an ``{"error": ...}`` answer, a malformed body) becomes a
``CredentialError`` raised ``from`` the original; no token ever appears in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import orjson

from nexus.errors import CredentialError
from nexus.redact import redact_text

if TYPE_CHECKING:
    import aiohttp

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
"""Claude Code's public OAuth client id (a public client: PKCE, no secret)."""
REDIRECT_URI = "https://console.anthropic.com/oauth/code/callback"
SCOPES = ("org:create_api_key", "user:profile", "user:inference")
OAUTH_BETA = "oauth-2025-04-20"
"""The beta Anthropic requires on every Messages call authenticated with an OAuth access token."""
TOKEN_TIMEOUT_S = 30.0
_MAX_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class Pkce:
    """One login attempt: the verifier stays here, the challenge and state go into the URL."""

    verifier: str
    challenge: str
    state: str


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What the token endpoint granted; ``refresh_token`` is None when the old one stays valid."""

    access_token: str
    refresh_token: str | None
    expires_at_ms: int | None
    scopes: tuple[str, ...]
    account_uuid: str | None = None
    account_email: str | None = None


def new_pkce() -> Pkce:
    """A fresh S256 verifier/challenge pair and an unguessable state."""
    verifier = _b64url(secrets.token_bytes(32))
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return Pkce(verifier=verifier, challenge=challenge, state=_b64url(secrets.token_bytes(32)))


def authorize_url(base_url: str, pkce: Pkce) -> str:
    """The URL the user opens to approve Nexus; the page shows a ``code#state`` to paste back."""
    query = urlencode(
        {
            "code": "true",
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": " ".join(SCOPES),
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": pkce.state,
        }
    )
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"


def parse_pasted_code(pasted: str, pkce: Pkce) -> str:
    """The authorization code from what the user pasted (``code#state`` or a bare code).

    A state that does not match this login attempt is refused: the code was issued for another one.
    """
    text = pasted.strip()
    code, _, state = text.partition("#")
    if not code:
        raise CredentialError("No authorization code was pasted.")
    if state and not secrets.compare_digest(state, pkce.state):
        raise CredentialError("The pasted code belongs to another login attempt (state mismatch).")
    return code


async def exchange_code(
    http: aiohttp.ClientSession,
    token_url: str,
    code: str,
    pkce: Pkce,
    *,
    now_ms: int,
    timeout_s: float = TOKEN_TIMEOUT_S,
) -> TokenSet:
    """Trade an authorization code (plus the PKCE verifier) for tokens."""
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "state": pkce.state,
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
    }
    return await _post_token(http, token_url, body, now_ms=now_ms, timeout_s=timeout_s)


async def refresh_tokens(
    http: aiohttp.ClientSession,
    token_url: str,
    refresh_token: str,
    *,
    now_ms: int,
    timeout_s: float = TOKEN_TIMEOUT_S,
) -> TokenSet:
    """Trade a refresh token for a new access token (and usually a new refresh token)."""
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}
    return await _post_token(http, token_url, body, now_ms=now_ms, timeout_s=timeout_s)


async def _post_token(
    http: aiohttp.ClientSession,
    token_url: str,
    body: Mapping[str, str],
    *,
    now_ms: int,
    timeout_s: float,
) -> TokenSet:
    import aiohttp

    try:
        async with http.post(
            token_url,
            data=orjson.dumps(body),
            headers={"content-type": "application/json", "accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            status = response.status
            raw = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise CredentialError(
            f"the token endpoint could not be reached ({type(exc).__name__})"
        ) from exc
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CredentialError(f"the token endpoint answered {status} with a non-JSON body") from exc
    if status != 200 or not isinstance(payload, dict):
        # An endpoint may echo what it was sent (the refresh token) in its error text.
        reason = redact_text(_reason(status, payload), also=body.values())
        raise CredentialError(f"the token endpoint refused: {reason}")
    return _token_set(payload, now_ms)


def _token_set(payload: Mapping[str, object], now_ms: int) -> TokenSet:
    access = payload.get("access_token")
    if not isinstance(access, str) or not access:
        raise CredentialError("the token endpoint answered without an access_token")
    refresh = payload.get("refresh_token")
    expires_in = payload.get("expires_in")
    scope = payload.get("scope")
    account = payload.get("account")
    account_uuid = account_email = None
    if isinstance(account, dict):
        uuid, email = account.get("uuid"), account.get("email_address")
        account_uuid = uuid if isinstance(uuid, str) else None
        account_email = email if isinstance(email, str) else None
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at_ms=(
            now_ms + int(expires_in * 1000) if isinstance(expires_in, int | float) else None
        ),
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        account_uuid=account_uuid,
        account_email=account_email,
    )


def _reason(status: int, payload: object) -> str:
    """The endpoint's own error code and description; never echoes anything else it sent."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):  # Anthropic's API error shape
            error = error.get("type"), error.get("message")
            text = ": ".join(str(part) for part in error if part)
        else:
            description = payload.get("error_description")
            text = ": ".join(str(part) for part in (error, description) if part)
        if text:
            return f"{text[:_MAX_REASON_CHARS]} (HTTP {status})"
    return f"HTTP {status}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
