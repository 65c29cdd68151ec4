"""The proxy's Quart app: routes only. Everything that matters happens in ``forward.Forwarder``.

Nexus answers ``/health`` and ``GET /`` itself; every other request goes to the forwarder, which
decides what may go upstream (``paths.upstream_path``) and refuses and records the rest.
"""

from __future__ import annotations

import logging

from quart import Quart, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from nexus import __version__
from nexus.errors import RequestRejected, anthropic_error_body, error_type
from nexus.proxy.forward import Forwarder, IncomingRequest
from nexus.web import HostTolerantQuart

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def make_proxy_app(forwarder: Forwarder, *, max_body_bytes: int) -> Quart:
    app = HostTolerantQuart("nexus.proxy")
    app.url_map.merge_slashes = False  # '//' is the forwarder's to refuse, not to redirect
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.config["BODY_TIMEOUT"] = 120
    app.config["RESPONSE_TIMEOUT"] = None  # Claude streams can run for many minutes
    logging.getLogger("quart.app").setLevel(logging.CRITICAL)  # a cut stream is not a server error

    @app.route("/", methods=["GET", "HEAD"])
    async def root() -> Response:
        if request.method == "HEAD":  # Claude Code's preconnect: it goes upstream like the rest
            return await relay()
        return _json(
            200, b'{"name":"nexus","status":"ok","version":"' + __version__.encode() + b'"}'
        )

    @app.route("/health", methods=["GET", "HEAD"])
    async def health() -> Response:
        return _json(200, b'{"status":"ok"}')

    async def relay(path: str = "") -> Response:
        body = await request.get_data(cache=False)
        assert isinstance(body, bytes)
        reply = await forwarder.handle(_incoming(body))
        if reply.stream is not None:
            response = Response(reply.stream, status=reply.status, headers=Headers(reply.headers))
            response.timeout = None
            return response
        return Response(reply.body, status=reply.status, headers=Headers(reply.headers))

    app.add_url_rule("/<path:path>", "relay", relay, methods=_METHODS)

    @app.errorhandler(RequestEntityTooLarge)
    async def too_large(exc: RequestEntityTooLarge) -> Response:
        message = f"request body is larger than the limit of {max_body_bytes} bytes"
        refused = RequestRejected(message, status=413)
        refused.error_type = "request_too_large"
        reply = forwarder.refuse(_incoming(b""), refused)
        return Response(reply.body, status=reply.status, headers=Headers(reply.headers))

    @app.errorhandler(NotFound)
    async def not_routed(exc: NotFound) -> Response:
        # Only paths the catch-all rule cannot hold ('//x') land here: the forwarder refuses them.
        reply = await forwarder.handle(_incoming(b""))
        return Response(reply.body, status=reply.status, headers=Headers(reply.headers))

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        return _json(status, anthropic_error_body(error_type(status), message))

    return app


def _incoming(body: bytes) -> IncomingRequest:
    """The request as the client sent it. Headers come from the ASGI scope, not ``request.headers``:
    Quart adds a synthetic ``Remote-Addr`` there (the client's IP) and title-cases every name. With
    Hypercorn's ``h11_pass_raw_headers`` the scope holds the client's names in its case and order."""
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in request.scope["headers"]
    )
    host = next((v for k, v in headers if k.lower() == "host"), "")
    raw_path = request.scope.get("raw_path") or request.path.encode("utf-8")
    return IncomingRequest(
        method=request.method,
        path=request.path,
        raw_path=raw_path.decode("latin-1"),
        query=request.query_string.decode("latin-1"),
        headers=headers,
        body=body,
        host=host,
    )


def _json(status: int, body: bytes) -> Response:
    return Response(body, status=status, content_type="application/json")
