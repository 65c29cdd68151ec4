"""Fake alert receivers on real sockets: a Slack incoming webhook and a plain HTTP webhook.

``FakeSlack`` answers as Slack's incoming webhooks do: ``POST /services/<T>/<B>/<token>`` with a
JSON body holding ``text`` or ``blocks`` → ``200 ok`` (``text/html``); an unknown path → ``404
no_service``; a body that is not JSON → ``400 invalid_payload``; neither text nor blocks →
``400 no_text``. ``FakeWebhook`` takes any ``POST /hook`` and answers ``200 {"ok": true}``. Both
record every request (raw body and headers) and can be scripted to fail next:
``fail_next(500, "rollup_error")`` or ``fail_next(429, "rate_limited", retry_after=1)``.
They never check signatures: tests verify those themselves, with ``hmac``, from the raw bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

__all__ = ["FakeSlack", "FakeWebhook", "Received"]

SLACK_PATH = "/services/T0FAKE/B0FAKE/fakeWebhookToken0123456789"


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the fake answered

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class _Receiver:
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._failures: deque[tuple[int, str, float | None]] = deque()
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()

    def fail_next(
        self, status: int, body: str, *, times: int = 1, retry_after: float | None = None
    ) -> None:
        for _ in range(times):
            self._failures.append((status, body, retry_after))

    @property
    def delivered(self) -> list[Received]:
        """The requests it accepted."""
        return [r for r in self.received if r.status == 200]

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests were accepted."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.delivered) >= count)
        return self.delivered

    async def _record(self, request: web.Request, status: int) -> None:
        body = await request.read()
        headers = {str(k): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, body, status))
        async with self._arrived:
            self._arrived.notify_all()

    def _scripted(self) -> web.Response | None:
        if not self._failures:
            return None
        status, body, retry_after = self._failures.popleft()
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return web.Response(status=status, text=body, headers=headers)

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class FakeSlack(_Receiver):
    @property
    def webhook_url(self) -> str:
        return self.url + SLACK_PATH

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._post)

    async def _post(self, request: web.Request) -> web.Response:
        answer = self._scripted() or await self._judge(request)
        await self._record(request, answer.status)
        return answer

    async def _judge(self, request: web.Request) -> web.Response:
        if request.path != SLACK_PATH:
            return web.Response(status=404, text="no_service")
        try:
            payload = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return web.Response(status=400, text="no_text")
        return web.Response(status=200, text="ok", content_type="text/html")


@dataclass
class FakeWebhook(_Receiver):
    @property
    def hook_url(self) -> str:
        return self.url + "/hook"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._post)

    async def _post(self, request: web.Request) -> web.Response:
        answer = self._scripted() or web.json_response({"ok": True})
        await self._record(request, answer.status)
        return answer


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest.fixture
async def fake_webhook() -> AsyncIterator[FakeWebhook]:
    async with FakeWebhook() as server:
        yield server
