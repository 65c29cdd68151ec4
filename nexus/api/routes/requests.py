"""``/api/requests``: the list with filters and cursor paging, one full record, its raw bytes."""

from __future__ import annotations

from quart import Blueprint, Response, request

from nexus.api.context import api_context
from nexus.api.paging import page_response
from nexus.api.params import BadParameter, parse_filter
from nexus.api.serialize import detail_body, dumps
from nexus.errors import ApiError
from nexus.records import StoredRequest

blueprint = Blueprint("requests", __name__)
JSON = "application/json"


@blueprint.get("/api/requests")
async def list_requests() -> Response:
    flt = parse_filter(request.args)
    store = api_context().store
    return await page_response(
        request.args, lambda cursor, limit: store.list_requests(flt, cursor, limit)
    )


@blueprint.get("/api/requests/count")
async def count_requests() -> Response:
    count = await api_context().store.count_requests(parse_filter(request.args))
    return Response(dumps({"count": count}), content_type=JSON)


@blueprint.get("/api/requests/<request_id>")
async def get_request(request_id: str) -> Response:
    view = request.args.get("bodies", "parsed")
    if view not in ("parsed", "exact"):
        raise BadParameter("bodies", "expected 'parsed' or 'exact'")
    stored = await _stored(request_id)
    return Response(detail_body(stored, view), content_type=JSON)  # type: ignore[arg-type]


@blueprint.get("/api/requests/<request_id>/raw")
async def get_request_raw(request_id: str) -> Response:
    """The request body exactly as the client sent it."""
    stored = await _stored(request_id)
    return Response(stored.request_body, content_type=JSON)


@blueprint.get("/api/requests/<request_id>/sse")
async def get_response_raw(request_id: str) -> Response:
    """The response body exactly as it came from the upstream (SSE text for streams)."""
    stored = await _stored(request_id)
    content_type = _header(stored, "content-type") or (
        "text/event-stream" if stored.summary.is_streaming else "application/octet-stream"
    )
    return Response(stored.response_body, content_type=content_type)


async def _stored(request_id: str) -> StoredRequest:
    stored: StoredRequest | None = None
    if len(request_id) <= 128:
        stored = await api_context().store.get_request(request_id)
    if stored is None:
        raise ApiError(f"no request with id {request_id!r}", status=404)
    return stored


def _header(stored: StoredRequest, name: str) -> str | None:
    for key, value in stored.response_headers:
        if key.lower() == name:
            return value
    return None
