"""Client bytes → upstream → client, unchanged, teeing a copy of everything into the Tap.

The sole owner of the hot path. Bodies are never re-serialised: the client's bytes go upstream as
they came, the upstream's bytes come back as they arrive (``iter_any``; no decompression), and the
exchange is handed to the Tap (one buffered spool write, no database) before the client receives
the end of its response. Nexus's own failures (bad input, bad client key, upstream unreachable or
timing out) are answered in Anthropic's error shape and recorded like any other call.

Longer than ~400 lines on purpose: the hot path reads top to bottom in one module, so every step a
byte takes between client and upstream is in one place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import simdjson
import yarl

from nexus.errors import (
    ClientAuthError,
    NexusError,
    RequestRejected,
    UpstreamTimeout,
    UpstreamUnreachable,
    anthropic_error_body,
)
from nexus.limits.runaway import repeated_tool_call
from nexus.limits.subject import CallFacts, Subject
from nexus.proxy.grants import Grant, presented_keys
from nexus.proxy.headers import downstream_headers, upstream_headers
from nexus.proxy.paths import PRECONNECT, upstream_path
from nexus.proxy.upstream_health import UpstreamHealth
from nexus.records import Exchange, Headers, Outcome, new_id, now_ms
from nexus.redact import redact_headers, redact_query, redact_text, secret_values

log = logging.getLogger("nexus.proxy")
_JSON_PATHS = ("/v1/messages", "/v1/messages/count_tokens")
_LIMITED_PATH = "/v1/messages"  # the billed calls; count_tokens and the rest are not limited
_ERROR_HEADERS = (("content-type", "application/json"),)


class Gatekeeper(Protocol):
    """Decides who may call and with which upstream credentials (nexus.proxy.credentials)."""

    def check_host(self, host: str) -> str: ...

    async def grant(self, host: str, headers: Mapping[str, str]) -> Grant: ...

    async def on_upstream_unauthorized(self, grant: Grant) -> bool: ...


class Admission(Protocol):
    """Refuses (raises ``LimitExceeded``) or admits and counts a call (nexus.limits.limiter)."""

    def admit(self, subject: Subject, facts: CallFacts) -> tuple[str, ...]: ...

    def observe_window(self, account_id: str | None, headers: Mapping[str, str]) -> None: ...


class TapLike(Protocol):
    def put_nowait(self, exchange: Exchange) -> None: ...


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """What the web framework hands the forwarder: nothing framework-specific crosses this line."""

    method: str
    path: str  # percent-decoded, as recorded
    raw_path: str  # as the client sent it (still encoded): what goes upstream once checked
    query: str
    headers: Headers
    body: bytes
    host: str


@dataclass(slots=True)
class Reply:
    """What the forwarder answers: status, headers, and either a whole body or a byte stream."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


@dataclass(slots=True)
class _Call:
    """Mutable bookkeeping of one exchange while it is in flight."""

    request: IncomingRequest
    id: str = field(default_factory=new_id)
    started_at_ms: int = field(default_factory=now_ms)
    t0: float = field(default_factory=time.perf_counter)
    first_byte_at_ms: int | None = None
    overhead_s: float = 0.0
    grant: Grant | None = None
    target: str = ""  # the checked path that goes upstream
    sent: bool = False  # the request went to the upstream
    upstream_status: int | None = None  # once the upstream's headers are in
    recorded: bool = False
    limit_scopes: tuple[str, ...] = ()  # the limit counters it was admitted under


class Forwarder:
    def __init__(
        self,
        *,
        upstream_url: str,
        tap: TapLike,
        gatekeeper: Gatekeeper,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 600.0,
        session: aiohttp.ClientSession | None = None,
        limiter: Admission | None = None,
    ) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self._upstream_host = _netloc(self.upstream_url)
        self.tap = tap
        self.gatekeeper = gatekeeper
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session = session
        self.health = UpstreamHealth(self.upstream_url)
        self.limiter = limiter

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, timeout=self._timeout
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, request: IncomingRequest) -> Reply:
        call = _Call(request)
        try:
            self.gatekeeper.check_host(request.host)
            call.target = upstream_path(request.raw_path, request.method)
            headers = _header_map(request.headers)
            call.grant = await self.gatekeeper.grant(request.host, headers)
            if request.method == "POST" and request.path in _JSON_PATHS:
                subject = call.grant.subject if request.path == _LIMITED_PATH else None
                if subject is None or self.limiter is None:
                    _check_json(request.body, None)
                else:
                    facts = _check_json(request.body, subject, headers)
                    call.limit_scopes = self.limiter.admit(subject, facts)
            return await self._forward(call)
        except ClientAuthError as exc:
            if _is_keyless_probe(request):
                return Reply(200, [])  # answered here: nothing to forward it with, nor to record
            return self._refuse(call, exc)
        except NexusError as exc:
            return self._refuse(call, exc)
        except asyncio.CancelledError:
            # The client hung up before its answer began: the web server cancels this handler.
            # The call may well have reached the upstream (and been billed): record it.
            if not call.recorded:
                where = "the upstream answered" if call.sent else "the call was forwarded"
                error = f"the client disconnected before {where}"
                self._record(
                    call, call.upstream_status, (), b"", Outcome.CLIENT_DISCONNECTED, error
                )
            raise

    def refuse(self, request: IncomingRequest, exc: NexusError) -> Reply:
        """Answer and record a request the web framework refused before ``handle`` (too large)."""
        return self._refuse(_Call(request), exc)

    async def _forward(self, call: _Call, *, retried: bool = False) -> Reply:
        req = call.request
        grant = call.grant
        assert grant is not None and self._session is not None
        headers = upstream_headers(
            req.headers,
            upstream_host=self._upstream_host,
            drop=grant.drop_headers,
            set_headers=grant.set_headers,
            extra_betas=grant.extra_betas,
        )
        # encoded=True: the checked path and the query go up as the client spelled them; yarl
        # would otherwise decode and re-normalise them (``%2e%2e`` → ``..`` → gone).
        url = yarl.URL(
            self.upstream_url + call.target + (f"?{req.query}" if req.query else ""), encoded=True
        )
        sent = time.perf_counter()
        call.overhead_s += sent - call.t0
        call.sent = True
        try:
            upstream = await self._session.request(
                req.method,
                url,
                headers=headers,
                data=req.body or None,
                allow_redirects=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Accept", "Content-Type"),
            )
        except TimeoutError as exc:
            self.health.failed("no answer in time")
            raise UpstreamTimeout(f"the upstream API did not answer in time ({url})") from exc
        except aiohttp.ClientError as exc:
            self.health.failed(str(exc) or type(exc).__name__)
            raise UpstreamUnreachable(f"the upstream API could not be reached: {exc}") from exc
        self.health.answered()
        if self.limiter is not None and grant.subject is not None and grant.subject.watches_window:
            self.limiter.observe_window(grant.account_id, upstream.headers)
        got_headers = time.perf_counter()
        call.upstream_status = upstream.status
        call.first_byte_at_ms = call.started_at_ms + int((got_headers - call.t0) * 1000)
        if upstream.status == 401 and grant.auth_mode == "oauth" and not retried:
            try:
                retry = await self.gatekeeper.on_upstream_unauthorized(grant)
            except BaseException:
                upstream.release()
                raise
            if retry:
                upstream.release()
                call.grant = await self.gatekeeper.grant(req.host, _header_map(req.headers))
                call.t0 = time.perf_counter()
                return await self._forward(call, retried=True)
        response_headers = tuple(upstream.headers.items())
        out_headers = downstream_headers(response_headers)
        content_type = upstream.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            try:
                body = await upstream.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                upstream.close()
                raise UpstreamUnreachable(f"the upstream API broke off its answer: {exc}") from exc
            call.overhead_s += time.perf_counter() - got_headers
            self._add_nexus_headers(call, out_headers)
            self._record(call, upstream.status, response_headers, body, Outcome.COMPLETE, None)
            return Reply(upstream.status, out_headers, body=body)
        call.overhead_s += time.perf_counter() - got_headers
        self._add_nexus_headers(call, out_headers)
        return Reply(
            upstream.status, out_headers, stream=self._relay(call, upstream, response_headers)
        )

    async def _relay(
        self, call: _Call, upstream: aiohttp.ClientResponse, response_headers: Headers
    ) -> AsyncIterator[bytes]:
        """Yield upstream chunks as they arrive; record once, before the client's stream ends."""
        chunks: list[bytes] = []
        outcome: Outcome = Outcome.CLIENT_DISCONNECTED
        error: str | None = "the client disconnected mid-stream"
        try:
            try:
                async for chunk in upstream.content.iter_any():
                    chunks.append(chunk)
                    yield chunk
            except (TimeoutError, aiohttp.ClientError) as exc:
                outcome, error = _failure_outcome(exc), f"upstream stream broke off: {exc}"
                raise _StreamBroken(error) from exc
            outcome, error = Outcome.COMPLETE, None
        finally:
            if outcome is Outcome.COMPLETE:
                upstream.release()
            else:  # cancels the upstream request too
                upstream.close()
            self._record(call, upstream.status, response_headers, b"".join(chunks), outcome, error)

    def _refuse(self, call: _Call, exc: NexusError) -> Reply:
        if isinstance(exc, RequestRejected):  # one line per bad request, never a traceback
            req = call.request
            log.warning("refused %s %.200r: %s", req.method, req.raw_path, exc.message)
        # The message can quote what a token endpoint answered: no secret goes back in it.
        message = redact_text(exc.message, also=secret_values(call.request.headers))
        body = anthropic_error_body(exc.error_type, message)
        outcome = _REFUSAL_OUTCOMES.get(type(exc), Outcome.REJECTED)
        self._record(call, None, (), b"", outcome, exc.message, status_override=exc.status)
        headers = [*_ERROR_HEADERS, *exc.headers]
        self._add_nexus_headers(call, headers)
        return Reply(exc.status, headers, body=body)

    def _add_nexus_headers(self, call: _Call, headers: list[tuple[str, str]]) -> None:
        headers.append(("x-nexus-request-id", call.id))
        overhead = call.overhead_s or (time.perf_counter() - call.t0)
        headers.append(("x-nexus-overhead-ms", f"{overhead * 1000:.2f}"))

    def _record(
        self,
        call: _Call,
        status: int | None,
        response_headers: Headers,
        body: bytes,
        outcome: Outcome,
        error: str | None,
        *,
        status_override: int | None = None,
    ) -> None:
        call.recorded = True
        req = call.request
        grant = call.grant
        # Redacted here, before the spool: no secret reaches a file, the database or an export.
        secrets = secret_values(req.headers)
        exchange = Exchange(
            id=call.id,
            started_at_ms=call.started_at_ms,
            ended_at_ms=call.started_at_ms + int((time.perf_counter() - call.t0) * 1000),
            first_byte_at_ms=call.first_byte_at_ms,
            method=req.method,
            path=redact_text(req.path, also=secrets),
            query=redact_query(req.query, secrets),
            host=req.host[:255],
            request_headers=redact_headers(req.headers, secrets),
            request_body=req.body,
            status=status if status is not None else status_override,
            response_headers=redact_headers(response_headers, secrets),
            response_body=body,
            outcome=outcome,
            error=redact_text(error, also=secrets) if error else None,
            account_id=grant.account_id if grant else None,
            client_key_id=grant.client_key_id if grant else None,
            auth_mode=grant.auth_mode if grant else "passthrough",
            limit_scopes=call.limit_scopes,
        )
        try:
            self.tap.put_nowait(exchange)
        except Exception:  # recording must never break the client's response
            log.exception("could not hand exchange %s to the recorder", call.id)


_REFUSAL_OUTCOMES: dict[type[NexusError], Outcome] = {
    UpstreamUnreachable: Outcome.UPSTREAM_UNREACHABLE,
    UpstreamTimeout: Outcome.UPSTREAM_TIMEOUT,
}


class _StreamBroken(Exception):
    """Raised into the web server so the client's connection is cut, as the upstream's was."""


def _failure_outcome(exc: BaseException) -> Outcome:
    return (
        Outcome.UPSTREAM_TIMEOUT
        if isinstance(exc, asyncio.TimeoutError)
        else Outcome.UPSTREAM_RESET
    )


# simdjson validates a document (UTF-8 included) without building Python objects: 120 µs for a
# 245 KB Claude Code body where orjson.loads takes 460. Its parser keeps buffers sized to the
# largest document it has seen, so bodies past _SIMD_MAX get a parser of their own (rare, freed
# with the document). Not orjson: a dict keeps only the last of duplicate keys, and the model
# allowlist must see them all (``_facts``).
_SIMD_MAX = 4 * 1024 * 1024
_simd = simdjson.Parser()


def _check_json(
    body: bytes, subject: Subject | None, headers: Mapping[str, str] | None = None
) -> CallFacts:
    """Refuse a body that is not JSON; read what the limiter needs of it (only what ``subject``'s
    policy asks for, while the parsed document is alive: the parser is reused per call)."""
    if not body:
        raise RequestRejected("the request body is empty: send a JSON object")
    try:
        if len(body) <= _SIMD_MAX:
            doc = _simd.parse(body)
        else:
            doc = simdjson.Parser().parse(body)
    except ValueError as exc:  # simdjson reports bad JSON and bad UTF-8 as ValueError
        raise RequestRejected(f"the request body is not valid JSON (UTF-8): {exc}") from exc
    except RuntimeError as exc:  # simdjson's DEPTH_ERROR: nested 1024 deep or more
        raise RequestRejected(f"the request body is nested too deep: {exc}") from exc
    try:
        return _facts(doc, subject, headers) if subject is not None else _NO_FACTS
    finally:
        del doc  # simdjson refuses to parse again while a value of the last document lives


_NO_FACTS = CallFacts()
_OBJECT = simdjson.Object
_new_facts = tuple.__new__  # ``CallFacts(...)`` runs a Python-level ``__new__``: a frame per call


def _facts(doc: Any, subject: Subject, headers: Mapping[str, str] | None) -> CallFacts:
    """What ``subject``'s policy needs of the body. On every limited call, with the document and
    this code cold in the CPU's caches (a cache miss costs more than the work), so: bytes keys
    (simdjson encodes a str key per look-up), subscripts, and no object built that can be spared.
    Measured with ``benchmarks/admission_cost.py --thrash``."""
    if type(doc) is not _OBJECT:
        return _NO_FACTS
    fields: Any = doc  # simdjson takes bytes keys; its stubs say str
    model = None
    if subject.wants_model:
        try:
            model = fields[b"model"]
        except KeyError:
            pass
        # That is the first ``model``; an upstream may honour the last. Only top-level keys are
        # read (nested ``model`` keys are not the call's).
        seen = 0
        for key in fields:
            if key == "model":
                seen += 1
        if seen > 1:
            raise RequestRejected(
                "the request body names the top-level key 'model' more than once: send one"
            )
        if type(model) is not str:
            model = None
    tool, repeats = None, 0
    if subject.streak_cap:
        try:
            messages = fields[b"messages"]
        except KeyError:
            messages = None
        tool, repeats = repeated_tool_call(messages, subject.streak_cap)
    session = headers.get("x-claude-code-session-id") if headers and subject.runaway else None
    return _new_facts(CallFacts, (model, session, tool, repeats))


def _is_keyless_probe(request: IncomingRequest) -> bool:
    """Claude Code's connection warm-up (``HEAD /``, ``HEAD /api/hello``) sent without a key: in
    team mode it cannot be forwarded (no client key was accepted), and refusing it would put a 401
    row in the records for every session, for a call whose answer Claude Code ignores."""
    methods = PRECONNECT.get(request.raw_path)
    return (
        methods is not None
        and request.method in methods
        and not request.query
        and not request.body
        and not presented_keys(_header_map(request.headers))
    )


def _netloc(url: str) -> str:
    """The ``Host`` value the upstream expects (default ports left out, as aiohttp writes it)."""
    host = yarl.URL(url).host_port_subcomponent
    if host is None:
        raise ValueError(f"the upstream URL has no host: {url}")
    return host


def _header_map(headers: Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers}
