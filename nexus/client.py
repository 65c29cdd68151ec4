"""The typed async client of the read API: what the TUI, ``nexus export --server`` and remote CLI
commands use to talk to a ``nexus serve`` (local or a team server).

It returns the records of ``nexus.records`` (never the wire's dicts, except for the usage and
analysis reports, whose shapes their areas own), raises ``ApiError`` (with the HTTP status and the
server's message) when the API refuses a call and ``ServerUnreachable`` when there is no answer at
all (the CLI's exit code 3). ``events()`` follows the live feed across disconnects, resuming with
``Last-Event-ID`` so no event is missed or repeated. Imports nothing server-side. It holds one
short method per route of the API, which is why it runs past 400 lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import orjson

from nexus.errors import ApiError, ServerUnreachable
from nexus.record_json import (
    cache_entry_from_json,
    conversation_summary_from_json,
    stored_from_json,
    summary_from_json,
    tree_from_json,
)
from nexus.records import (
    ConversationSummary,
    ConversationTree,
    LiveEvent,
    Page,
    RequestFilter,
    RequestSummary,
    StoredRequest,
    WindowForecast,
)

if TYPE_CHECKING:
    import httpx
    from httpx_sse import ServerSentEvent

__all__ = ["NexusClient", "filter_params", "request_headers", "request_page"]

DEFAULT_TIMEOUT_S = 10.0
FEED_IDLE_TIMEOUT_S = 45.0  # three missed heartbeats: the connection is dead, reconnect


def filter_params(flt: RequestFilter | None) -> dict[str, str]:
    """A ``RequestFilter`` as the API's query parameters (the inverse of the server's parsing)."""
    if flt is None:
        return {}
    pairs = {
        "since": flt.since_ms,
        "until": flt.until_ms,
        "host": flt.host,
        "account": flt.account_id,
        "model": flt.model,
        "status": flt.status,
        "class": flt.traffic_class,
        "session": flt.session_id,
        "conversation_id": flt.conversation_id,
        "q": flt.text,
    }
    return {name: str(value) for name, value in pairs.items() if value is not None}


def request_headers(api_key: str | None) -> dict[str, str]:
    """The headers of every call: JSON, and the key as a bearer token when there is one."""
    headers = {"Accept": "application/json", "User-Agent": "nexus-client"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def uses_tls(base_url: str) -> bool:
    """Whether certificates are verified: always for https. A plain-http server has no TLS to
    verify, and building the verifying context (reading the CA bundle) would cost each start of
    ``nexus tui`` about 0.1 s of CPU for nothing."""
    return urlsplit(base_url).scheme.lower() == "https"


class NexusClient:
    """One connection pool to one Nexus API. Use ``async with`` or call ``aclose()``.

    httpx is imported, and the pool built, on the first call: importing it costs ``nexus tui``
    ~0.1 s of CPU, and its first frame is drawn from a page fetched without it (tui/first_page.py).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = request_headers(api_key or key)
        self._timeout = timeout
        self._transport = transport
        self._pool: httpx.AsyncClient | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._pool is None:
            import httpx

            self._pool = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
                verify=uses_tls(self.base_url),
            )
        return self._pool

    async def __aenter__(self) -> NexusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    # -- plumbing -----------------------------------------------------------------------------
    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self._call("GET", path, params)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        import httpx

        content = None if body is None else orjson.dumps(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        try:
            response = await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise ServerUnreachable(_unreachable(self.base_url, exc)) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    async def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return orjson.loads((await self._get(path, params)).content)

    async def _optional(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON at ``path``, or None when the API answers 404 (no such record)."""
        try:
            return await self._json(path, params)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def _page(
        self, path: str, flt: RequestFilter | None, cursor: str | None, limit: int
    ) -> Any:
        """The JSON of one page of a list route (``{"items", "next_cursor"}``)."""
        params = filter_params(flt) | {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._json(path, params)

    async def _count(self, path: str, flt: RequestFilter | None) -> int:
        return int((await self._json(path, filter_params(flt)))["count"])

    # -- routes -------------------------------------------------------------------------------
    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("/health")
        return result

    async def list_requests(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        return request_page(await self._page("/api/requests", flt, cursor, limit))

    async def count_requests(self, flt: RequestFilter | None = None) -> int:
        return await self._count("/api/requests/count", flt)

    async def get_request(self, request_id: str) -> StoredRequest | None:
        """The full record with exact bodies; None when there is no such request."""
        data = await self._optional(f"/api/requests/{request_id}", {"bodies": "exact"})
        return None if data is None else stored_from_json(data)

    async def raw_request_body(self, request_id: str) -> bytes:
        return (await self._get(f"/api/requests/{request_id}/raw")).content

    async def raw_response_body(self, request_id: str) -> bytes:
        return (await self._get(f"/api/requests/{request_id}/sse")).content

    async def list_conversations(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]:
        data = await self._page("/api/conversations", flt, cursor, limit)
        return Page(
            [conversation_summary_from_json(i) for i in data["items"]], data.get("next_cursor")
        )

    async def count_conversations(self, flt: RequestFilter | None = None) -> int:
        return await self._count("/api/conversations/count", flt)

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        data = await self._optional(f"/api/conversations/{conversation_id}")
        return None if data is None else tree_from_json(data)

    async def usage(
        self,
        by: Sequence[str] = (),
        *,
        bucket: str | None = None,
        flt: RequestFilter | None = None,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]:
        """The usage report (``nexus.usage.report``'s JSON shape)."""
        params = filter_params(flt)
        if by:
            params["by"] = ",".join(by)
        if bucket:
            params["bucket"] = bucket
        if utc_offset_ms:
            params["utc_offset_ms"] = str(utc_offset_ms)
        result: dict[str, Any] = await self._json("/api/usage", params)
        return result

    async def cache(
        self,
        by: str = "cause",
        *,
        flt: RequestFilter | None = None,
        cursor: str | None = None,
        limit: int = 100,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]:
        """The cache ledger (``nexus.cache.report``'s JSON shape), its ``breaks`` read back as
        ``CacheLedgerEntry`` records."""
        params = filter_params(flt)
        params.update(by=by, limit=str(limit))
        if cursor:
            params["cursor"] = cursor
        if utc_offset_ms:
            params["utc_offset_ms"] = str(utc_offset_ms)
        result: dict[str, Any] = await self._json("/api/cache", params)
        result["breaks"] = [cache_entry_from_json(b) for b in result.get("breaks", [])]
        return result

    async def windows(
        self, *, account: str | None = None, since_ms: int | None = None, series: bool = True
    ) -> dict[str, Any]:
        """Rate-limit windows per account (``nexus.usage.report``'s JSON shape); ``since_ms``
        starts the series and attribution, ``series=False`` leaves the series out."""
        params = {"account": account, "since": since_ms, "series": None if series else 0}
        result: dict[str, Any] = await self._json(
            "/api/windows", {k: str(v) for k, v in params.items() if v is not None}
        )
        return result

    async def window_forecasts(self, *, account: str | None = None) -> list[WindowForecast]:
        """Per account and server-reported window: when it reaches 100 % at the current rate."""
        params = {"series": "0", "attribution": "0", **({"account": account} if account else {})}
        body = await self._json("/api/windows", params)
        found = []
        for acct in body.get("accounts", []):
            for w in acct.get("windows", []):
                f = w.get("forecast")
                if f is None:
                    continue
                found.append(
                    WindowForecast(
                        account=acct["account"], window=w["name"],
                        utilization=float(w.get("utilization") or 0.0),
                        at_ms=f["reading_at_ms"], reset_at_ms=w.get("reset_at_ms"),
                        burn_per_hour=f.get("burn_per_hour"), full_at_ms=f.get("full_at_ms"),
                        since_ms=f.get("since_ms"),
                    )
                )  # fmt: skip
        return found

    async def start_analysis(
        self,
        conversation_id: str,
        branch: str = "main",
        *,
        force: bool = False,
        prompt: str | None = None,
        prompt_name: str | None = None,
    ) -> dict[str, Any]:
        """Ask the server's worker to analyse a branch (again, with ``force``): the job. With
        ``prompt`` (a custom prompt's text, called ``prompt_name``) instead of the built-in one."""
        params = {"branch": branch, **({"force": "1"} if force else {})}
        path = f"/api/conversations/{quote(conversation_id, safe='')}/analyses"
        body = None
        if prompt is not None:
            body = {"prompt": prompt, **({"prompt_name": prompt_name} if prompt_name else {})}
        response = await self._call("POST", path, params, body)
        result: dict[str, Any] = orjson.loads(response.content)
        return result

    async def get_analysis(
        self, conversation_id: str, branch: str = "main", prompt_version: str | None = None
    ) -> dict[str, Any]:
        """The branch's job: the one of ``prompt_version`` (a job's key) when given and stored,
        else the built-in prompt's, else the newest."""
        params = {"branch": branch, **({"prompt": prompt_version} if prompt_version else {})}
        result: dict[str, Any] = await self._json(
            f"/api/conversations/{quote(conversation_id, safe='')}/analyses", params
        )
        return result

    async def list_analyses(
        self, *, state: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The server's analysis jobs, newest first (``state``: pending, running, done, failed)."""
        params = {"state": state, "limit": limit}
        data = await self._json(
            "/api/analyses", {k: str(v) for k, v in params.items() if v is not None}
        )
        items: list[dict[str, Any]] = data["items"]
        return items

    # -- live feed ----------------------------------------------------------------------------
    async def list_prompts(self) -> dict[str, Any]:
        """``{"prompts": [...], "errors": [{"path", "error"}]}``: the library ``/mcp`` serves."""
        result: dict[str, Any] = await self._json("/api/prompts")
        return result

    async def get_prompt(self, name: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._optional(f"/api/prompts/{quote(name, safe='')}")
        return result

    async def render_prompt(self, name: str, arguments: Mapping[str, str]) -> str:
        """The prompt's text with ``arguments``; ``ApiError`` (400) names a missing one."""
        path = f"/api/prompts/{quote(name, safe='')}/render"
        result: dict[str, Any] = await self._json(path, arguments)
        return str(result["text"])

    async def events(
        self,
        after: int | None = None,
        *,
        reconnect: bool = True,
        include_status: bool = False,
        retry_s: float = 0.5,
        max_retry_s: float = 10.0,
        idle_timeout_s: float = FEED_IDLE_TIMEOUT_S,
    ) -> AsyncIterator[LiveEvent]:
        """Every live-feed event after ``after`` (None: from now on), in order, exactly once.

        Reconnects on its own (with backoff) when the server goes away or the connection idles
        past ``idle_timeout_s``, resuming after the last event seen. ``include_status`` also yields
        ``connected``/``disconnected`` pseudo-events (``seq`` = the resume point, no summary) so a
        UI can show the connection state. An API refusal (401/403/400) ends the iteration with
        ``ApiError``; without ``reconnect`` a lost server raises ``ServerUnreachable``.
        """
        import httpx
        from httpx_sse import aconnect_sse

        cursor = after
        delay = retry_s
        timeout = httpx.Timeout(self._timeout, read=idle_timeout_s)
        while True:
            headers = {} if cursor is None else {"Last-Event-ID": str(cursor)}
            try:
                async with aconnect_sse(
                    self._http, "GET", "/api/events", headers=headers, timeout=timeout
                ) as source:
                    response = source.response
                    if response.status_code >= 400:
                        await response.aread()
                        error = _api_error(response)
                        if response.status_code < 500 or not reconnect:
                            raise error
                        raise httpx.RemoteProtocolError(error.message)
                    async for sse in source.aiter_sse():
                        event = _event_from_sse(sse)
                        if event is None:
                            continue
                        cursor = event.seq
                        delay = retry_s
                        if event.kind != "connected" or include_status:
                            yield event
            except (httpx.TransportError, httpx.StreamError) as exc:
                if not reconnect:
                    raise ServerUnreachable(_unreachable(self.base_url, exc)) from exc
                if include_status:
                    yield LiveEvent(cursor or 0, "disconnected", "", 0)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_retry_s)
                continue
            if not reconnect:
                return
            # The server ended the stream (shutting down): come back when it does.
            if include_status:
                yield LiveEvent(cursor or 0, "disconnected", "", 0)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_s)


def request_page(data: Any) -> Page[RequestSummary]:
    """A page of ``GET /api/requests`` from its JSON."""
    return Page([summary_from_json(i) for i in data["items"]], data.get("next_cursor"))


def _event_from_sse(sse: ServerSentEvent) -> LiveEvent | None:
    """The feed's event, or None for a frame without a resume point or data (not one of ours)."""
    if not sse.id.isdigit() or not sse.data:
        return None
    return _event_from_json(int(sse.id), sse.event, orjson.loads(sse.data))


def _event_from_json(seq: int, kind: str, data: Any) -> LiveEvent:
    if kind == "connected":
        return LiveEvent(seq, kind, "", 0)
    if isinstance(data, dict) and "started_at_ms" in data:
        return LiveEvent(seq, kind, data["id"], data.get("at_ms", 0), summary_from_json(data))
    ref = data.get("ref_id", "") if isinstance(data, dict) else ""
    at = data.get("at_ms", 0) if isinstance(data, dict) else 0
    return LiveEvent(seq, kind, ref, at)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = orjson.loads(response.content)["error"]
        message = str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = f"{response.status_code} {response.reason_phrase} from {response.request.url}"
    return ApiError(message, status=response.status_code)


def _unreachable(base_url: str, exc: Exception) -> str:
    return (
        f"no answer from the Nexus API at {base_url} ({type(exc).__name__}: {exc or 'no detail'})"
    )
