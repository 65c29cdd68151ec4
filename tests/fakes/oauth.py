"""A fake Anthropic OAuth server on a real socket: authorize page and token endpoint.

It speaks the token endpoint's format (JSON body in; ``{access_token, refresh_token, expires_in,
scope, token_type, account}`` out; errors as ``{"error": "invalid_grant", "error_description"}``),
checks PKCE (the S256 challenge registered at ``/oauth/authorize`` against the ``code_verifier``
sent with the code) and rotates refresh tokens like the real one: a refresh token works once.
Tests script it: ``fail_next`` answers errors, ``expires_in`` sets token lifetimes, ``hold()`` keeps
token answers back until released (so concurrent callers pile up), ``wait_for_calls`` awaits
arrivals. ``GET /oauth/authorize?...`` plays the browser approving: it answers ``code#state`` as
plain text, which is what the user pastes.

Every token it issues contains ``FAKE-SECRET`` so tests can grep outputs for leaks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

__all__ = ["CLIENT_ID", "SECRET_MARK", "FakeOAuth", "TokenCall"]

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
SECRET_MARK = "FAKE-SECRET"


@dataclass(frozen=True, slots=True)
class TokenCall:
    grant_type: str
    body: dict[str, Any]


@dataclass(slots=True)
class _Failure:
    status: int
    error: str
    description: str


@dataclass
class FakeOAuth:
    expires_in: int = 3600
    scope: str = "user:inference user:profile"
    account: dict[str, str] = field(
        default_factory=lambda: {"uuid": "acct-uuid-1", "email_address": "dev@example.com"}
    )
    calls: list[TokenCall] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._serial = itertools.count(1)
        self._refresh_tokens: set[str] = set()
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, state)
        self._failures: deque[_Failure] = deque()
        self._gate: asyncio.Event | None = None
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # --- what tests use ----------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return f"{self.url}/v1/oauth/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/oauth/authorize"

    @property
    def refresh_count(self) -> int:
        return sum(1 for call in self.calls if call.grant_type == "refresh_token")

    @property
    def exchange_count(self) -> int:
        return sum(1 for call in self.calls if call.grant_type == "authorization_code")

    def issue_refresh_token(self) -> str:
        """A refresh token the server will accept once (to seed a credential file)."""
        token = f"sk-ant-ort01-{SECRET_MARK}-seed-{next(self._serial)}"
        self._refresh_tokens.add(token)
        return token

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 400,
        error: str = "invalid_grant",
        description: str = "Refresh token not found or invalid",
    ) -> None:
        self._failures.extend(_Failure(status, error, description) for _ in range(count))

    def hold(self) -> asyncio.Event:
        """Keep token answers back until the returned event is set."""
        self._gate = asyncio.Event()
        return self._gate

    async def wait_for_calls(self, count: int) -> None:
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.calls) >= count)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/v1/oauth/token", self._token)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOAuth:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers ------------------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("code_challenge_method") != "S256"
            or query.get("response_type") != "code"
            or not query.get("code_challenge")
            or not query.get("state")
        ):
            return web.Response(status=400, text="bad authorize request")
        code = f"code-{next(self._serial)}"
        self._codes[code] = (query["code_challenge"], query["state"])
        return web.Response(text=f"{code}#{query['state']}")

    async def _token(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "invalid_request", "body must be JSON")
        grant_type = str(body.get("grant_type"))
        async with self._arrived:
            self.calls.append(TokenCall(grant_type, body))
            self._arrived.notify_all()
        if self._gate is not None:
            await self._gate.wait()
        if self._failures:
            failure = self._failures.popleft()
            return _error(failure.status, failure.error, failure.description)
        if body.get("client_id") != CLIENT_ID:
            return _error(401, "invalid_client", "unknown client")
        if grant_type == "authorization_code":
            return self._exchange(body)
        if grant_type == "refresh_token":
            token = body.get("refresh_token")
            if token not in self._refresh_tokens:
                return _error(400, "invalid_grant", "Refresh token not found or invalid")
            self._refresh_tokens.discard(token)  # rotation: each refresh token works once
            return self._tokens()
        return _error(400, "unsupported_grant_type", grant_type)

    def _exchange(self, body: dict[str, Any]) -> web.Response:
        entry = self._codes.pop(str(body.get("code")), None)
        if entry is None:
            return _error(400, "invalid_grant", "Invalid authorization code")
        challenge, state = entry
        verifier = str(body.get("code_verifier", ""))
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if expected.rstrip(b"=").decode() != challenge or body.get("state") != state:
            return _error(400, "invalid_grant", "PKCE verification failed")
        return self._tokens()

    def _tokens(self) -> web.Response:
        serial = next(self._serial)
        refresh = f"sk-ant-ort01-{SECRET_MARK}-{serial}"
        self._refresh_tokens.add(refresh)
        payload = {
            "token_type": "Bearer",
            "access_token": f"sk-ant-oat01-{SECRET_MARK}-{serial}",
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "scope": self.scope,
            "account": self.account,
            "organization": {"uuid": "org-uuid-1", "name": "Example"},
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")


def _error(status: int, error: str, description: str) -> web.Response:
    body = orjson.dumps({"error": error, "error_description": description})
    return web.Response(status=status, body=body, content_type="application/json")


@pytest.fixture
async def fake_oauth() -> AsyncIterator[FakeOAuth]:
    async with FakeOAuth() as server:
        yield server
