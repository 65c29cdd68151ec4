"""A fake of Gemini's ``generateContent`` endpoint on a real socket and its ``fake_gemini`` fixture.

It speaks the Generative Language API wire format the google-genai SDK expects
(``POST /v1beta/models/{model}:generateContent``; a reply's text in
``candidates[0].content.parts[0].text`` with ``usageMetadata``; errors as
``{"error": {"code", "message", "status"}}``). Replies are scripted in order; once the script runs
out it answers with a valid analysis. Every call it saw is recorded, body bytes included, so tests
can grep what really left Nexus.
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

GOOD_ANALYSIS: dict[str, Any] = {
    "summary": "The user asked Claude to fix a failing test; Claude found the bug and fixed it.",
    "key_topics": ["pytest", "off-by-one bug"],
    "user_intent": "Make the test suite pass.",
    "outcome": {"status": "achieved", "details": "All tests pass at the end."},
    "sentiment": {"overall": "positive", "details": "The user thanked Claude."},
    "what_went_well": ["Claude ran the tests before and after the change."],
    "problems": [
        {"title": "Slow start", "details": "Claude read many files first.", "severity": "low"}
    ],
    "prompting_tips": [
        {
            "tip": "Name the failing test.",
            "why": "Claude would not need to search for it.",
            "example": "Fix tests/test_parse.py::test_empty, it fails with IndexError.",
        }
    ],
    "tool_usage_efficiency": {"rating": "good", "details": "Few redundant reads."},
    "context_window_management": {"rating": "good", "details": "Stayed well under the limit."},
    "action_items": ["Add a regression test for empty input."],
}

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True, slots=True)
class GeminiCall:
    """One request the fake received."""

    model: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes


@dataclass
class FakeGemini:
    """The running fake: its base URL, the scripted replies still to come and the calls it saw."""

    url: str = ""
    calls: list[GeminiCall] = field(default_factory=list)
    api_key: str | None = None  # when set, any other key is refused as Gemini does (400)
    _script: deque[_Reply] = field(default_factory=deque)
    _called: asyncio.Condition | None = None

    # -- scripting -------------------------------------------------------------------------------
    def reply_json(
        self, result: Any = None, *, prompt_tokens: int = 1200, output_tokens: int = 300
    ) -> None:
        """Answer the next call with ``result`` (default: a valid analysis) as the reply text."""
        text = orjson.dumps(GOOD_ANALYSIS if result is None else result).decode()
        self.reply_text(text, prompt_tokens=prompt_tokens, output_tokens=output_tokens)

    def reply_text(self, text: str, *, prompt_tokens: int = 1200, output_tokens: int = 300) -> None:
        """Answer the next call with ``text`` verbatim as the model's output (e.g. broken JSON)."""
        body = {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": "gemini-2.5-pro",
            "responseId": f"fake-{len(self.calls)}",
        }
        self._script.append(_Reply(200, orjson.dumps(body)))

    def reply_error(
        self, status: int, message: str = "", *, times: int = 1, retry_delay_s: int | None = None
    ) -> None:
        """Answer the next ``times`` calls with a Google API error body (with a RetryInfo delay)."""
        name = _STATUS_NAMES.get(status, "UNKNOWN")
        error: dict[str, Any] = {"code": status, "message": message or name.lower(), "status": name}
        if retry_delay_s is not None:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_delay_s}s",
                }
            ]
        body = {"error": error}
        for _ in range(times):
            self._script.append(_Reply(status, orjson.dumps(body)))

    # -- observing -------------------------------------------------------------------------------
    async def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[GeminiCall]:
        assert self._called is not None
        async with self._called:
            await asyncio.wait_for(self._called.wait_for(lambda: len(self.calls) >= count), timeout)
        return list(self.calls)

    # -- serving ---------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        target = request.match_info["target"]
        model, _, method = target.partition(":")
        if method != "generateContent":
            return _error(404, f"Method {method} not found.")
        call = GeminiCall(
            model=model,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
        )
        self.calls.append(call)
        assert self._called is not None
        async with self._called:
            self._called.notify_all()
        if self.api_key is not None and call.headers.get("x-goog-api-key") != self.api_key:
            return _error(400, "API key not valid. Please pass a valid API key.")
        if not self._script:
            self.reply_json()
        reply = self._script.popleft()
        return web.Response(status=reply.status, body=reply.body, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": _STATUS_NAMES[status]}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def start_fake_gemini() -> tuple[FakeGemini, web.AppRunner]:
    fake = FakeGemini(_called=asyncio.Condition())
    app = web.Application()
    app.router.add_post("/v1beta/models/{target}", fake._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    return fake, runner


@pytest.fixture
async def fake_gemini() -> AsyncIterator[FakeGemini]:
    """A running fake Gemini; ``fake_gemini.url`` is what ``Settings.gemini_url`` should be."""
    fake, runner = await start_fake_gemini()
    try:
        yield fake
    finally:
        await runner.cleanup()
