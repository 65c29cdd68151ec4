"""The fake's control routes, under ``/_fake/``, for a test that runs the fake in another process
(``python -m tests.fakes.upstream --cache``) and must still move its clock or ask it to miss:

- ``POST /_fake/clock/advance?seconds=N``: the cache's clock jumps N seconds forward
- ``POST /_fake/cache/miss-next?count=N``: the next N Messages calls read nothing (default 1)
- ``POST /_fake/cache/clear``: forget every entry
- ``GET /_fake/cache``: ``{"offset_s", "live_entries", "answers": [usage, ...]}``, the input side
  of usage of every answer so far, in order

``CacheRemote`` calls them. The real API has no such routes; they are never proxied (a test calls
the fake directly), and the fake does not list them among the requests it saw.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from aiohttp import web

from tests.fakes.upstream.cache import PromptCache, PromptTokens

PREFIX = "/_fake/"


def handle(request: web.Request, cache: PromptCache | None) -> web.Response:
    if cache is None:
        return _answer(
            {"error": "this fake runs without a prompt cache (start it with --cache)"}, 409
        )
    path, method = request.path, request.method
    try:
        if method == "POST" and path == "/_fake/clock/advance":
            cache.clock.advance(float(request.query["seconds"]))
        elif method == "POST" and path == "/_fake/cache/miss-next":
            cache.miss_next(int(request.query.get("count", "1")))
        elif method == "POST" and path == "/_fake/cache/clear":
            cache.clear()
        elif not (method == "GET" and path == "/_fake/cache"):
            return _answer({"error": f"no control route {method} {path}"}, 404)
    except (KeyError, ValueError) as exc:
        return _answer({"error": f"bad parameter: {exc}"}, 400)
    return _answer(state(cache))


def state(cache: PromptCache) -> dict[str, Any]:
    return {
        "offset_s": cache.clock.offset_s,
        "live_entries": cache.live_entries(),
        "answers": [a.as_json() for a in list(cache.answers)],
    }


def _answer(value: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")


class CacheRemote:
    """The control routes of a fake at ``url``, for tests (synchronous: a few local calls)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def advance(self, seconds: float) -> None:
        self._call("POST", "clock/advance", seconds=seconds)

    def miss_next(self, count: int = 1) -> None:
        self._call("POST", "cache/miss-next", count=count)

    def clear(self) -> None:
        self._call("POST", "cache/clear")

    def answers(self) -> list[PromptTokens]:
        return [_tokens(a) for a in self._call("GET", "cache")["answers"]]

    def _call(self, method: str, route: str, **params: Any) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}{PREFIX}{route}", params=params, timeout=10)
        response.raise_for_status()
        value: dict[str, Any] = response.json()
        return value


def _tokens(raw: dict[str, Any]) -> PromptTokens:
    split = raw["cache_creation"]
    return PromptTokens(
        input_tokens=raw["input_tokens"],
        cache_read_input_tokens=raw["cache_read_input_tokens"],
        cache_creation_5m_tokens=split["ephemeral_5m_input_tokens"],
        cache_creation_1h_tokens=split["ephemeral_1h_input_tokens"],
    )
