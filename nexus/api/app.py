"""The read API's Quart app: routes under ``/api/`` on the API port, closed to strangers by default.

``make_api_app`` wires the access check (``auth.py``) in front of every ``/api/*`` route, one JSON
error shape for everything that goes wrong (``{"error": {"type", "message"}}``, plus ``parameter``
on a 400 about a parameter), and the blueprints of ``nexus/api/routes/``. Areas add a route module
there exposing ``blueprint`` (or ``bp``), list it in ``_ROUTE_MODULES`` and describe each route
in ``routes/openapi.py`` (an undescribed route is an error there); a module that is not written
yet leaves its paths answering 501.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from nexus import __version__
from nexus.aio import TaskSet
from nexus.api.auth import check_access, check_state_change
from nexus.api.context import EXTENSION_KEY, ApiContext, api_context
from nexus.api.params import BadParameter, check_text
from nexus.api.serialize import dumps, error_body
from nexus.errors import ApiError, NexusError, StoreUnavailable, error_type
from nexus.web import HostTolerantQuart

if TYPE_CHECKING:
    from nexus.events import EventBus
    from nexus.settings import Settings

log = logging.getLogger("nexus.api")
JSON = "application/json"

# (module under nexus.api.routes, paths it serves: reserved with a 501 until the module exists)
_ROUTE_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("requests", ()),
    ("conversations", ()),
    ("events", ()),
    ("usage", ("/api/usage", "/api/windows")),
    ("analyses", ("/api/analyses", "/api/conversations/<conversation_id>/analyses")),
    ("openapi", ("/api/openapi.json",)),
    ("prompts", ("/api/prompts",)),
    ("cache", ("/api/cache",)),
)


def make_api_app(
    store: Any,
    settings: Settings,
    bus: EventBus,
    *,
    poll_interval_s: float = 2.0,
    heartbeat_s: float = 15.0,
    prompts: Any = None,
    proxy_port: int | None = None,
) -> Quart:
    """The API app over ``store`` (a Store with the area protocols), answering as ``settings`` say.

    ``bus`` wakes the live feed; ``poll_interval_s`` bounds how late an event can be when a
    wake-up is lost; ``heartbeat_s`` is the idle time after which the feed sends a keep-alive;
    ``prompts`` is the prompt library ``/mcp`` serves, read by ``GET /api/prompts``;
    ``proxy_port`` is where this server's proxy really listens (``/health`` says it, so a client
    can show the URL to point Claude Code at).
    """
    app = HostTolerantQuart("nexus.api")  # a Host werkzeug cannot encode: a 403, not a 500
    app.config["JSON_SORT_KEYS"] = False
    app.extensions[EXTENSION_KEY] = ApiContext(
        store=store,
        settings=settings,
        bus=bus,
        poll_interval_s=poll_interval_s,
        heartbeat_s=heartbeat_s,
        prompts=prompts,
    )
    tasks = TaskSet()

    @app.before_serving
    async def _start() -> None:
        if hasattr(store, "index_search_backlog"):
            tasks.spawn(_index_backlog(store), name="search-backlog")

    @app.after_serving
    async def _stop() -> None:
        await tasks.close()

    @app.before_request
    async def _check_access() -> Response | None:
        if not request.path.startswith("/api/"):
            return None
        client = request.scope.get("client")
        refusal = check_access(
            api_context().settings.api_key, request.headers, client[0] if client else None
        ) or check_state_change(request.method, request.headers, _has_body())
        if refusal is None:
            # a 400 naming the parameter, before any store sees it
            check_text(request.args.items(multi=True))
            check_text((request.view_args or {}).items())
            return None
        response = error_response(refusal.status, refusal.error_type, refusal.message)
        if refusal.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="nexus"'
        # The body is left unread, so the server cannot keep the connection: saying so keeps a
        # client from sending its next call on a connection that is closing under it.
        response.headers["Connection"] = "close"
        return response

    @app.get("/health")
    async def health() -> Response:
        body: dict[str, object] = {"status": "ok", "version": __version__}
        if proxy_port is not None:
            body["proxy_port"] = proxy_port
        return Response(dumps(body), content_type=JSON)

    _register_routes(app)
    _register_error_handlers(app)
    return app


def error_response(
    status: int, error_type: str, message: str, parameter: str | None = None
) -> Response:
    return Response(error_body(error_type, message, parameter), status=status, content_type=JSON)


def _has_body() -> bool:
    length = request.headers.get("content-length")
    return bool(request.headers.get("transfer-encoding")) or (length is not None and length != "0")


def _register_routes(app: Quart) -> None:
    for name, reserved in _ROUTE_MODULES:
        try:
            module = importlib.import_module(f"nexus.api.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nexus.api.routes.{name}":
                raise  # the module exists but something it imports does not: a real bug
            for path in reserved:
                app.add_url_rule(
                    path, f"reserved_{name}_{path}", _not_yet(name), methods=["GET", "POST"]
                )
            continue
        app.register_blueprint(getattr(module, "blueprint", None) or module.bp)


def _not_yet(area: str) -> Any:
    async def reserved(**_: Any) -> Response:
        return error_response(
            501, "not_implemented_error", f"this server was built without the {area} routes"
        )

    return reserved


def _register_error_handlers(app: Quart) -> None:
    @app.errorhandler(BadParameter)
    async def bad_parameter(exc: BadParameter) -> Response:
        return error_response(400, "invalid_request_error", exc.message, exc.parameter)

    @app.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, error_type(exc.status), exc.message)

    @app.errorhandler(StoreUnavailable)
    async def store_unavailable(exc: StoreUnavailable) -> Response:
        log.warning("API call failed, store unavailable: %s", exc)
        return error_response(503, "overloaded_error", "the database is unavailable; retry shortly")

    @app.errorhandler(NexusError)
    async def nexus_error(exc: NexusError) -> Response:
        status = exc.status if 400 <= exc.status < 600 else 500
        return error_response(status, error_type(status), exc.message)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = {404: "no such API route", 405: "method not allowed"}.get(
            status, exc.description or "request failed"
        )
        return error_response(status, error_type(status), message)

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.exception("API call failed: %s %s", request.method, request.path)
        return error_response(500, "api_error", "internal error; the server log has the details")


async def _index_backlog(store: Any) -> None:
    """Index requests a crash left without search text (usually none), beside serving."""
    try:
        count = await store.index_search_backlog()
    except StoreUnavailable as exc:
        log.warning("search backlog not indexed now (%s); it will be on the next start", exc)
        return
    if count:
        log.info("indexed %d requests for search", count)
