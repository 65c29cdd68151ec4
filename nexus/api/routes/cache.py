"""``GET /api/cache``: the cache ledger (breaks of the prompt cache, their causes and what they
cost), totals per group and one page of breaks. The JSON shape is ``nexus.cache.report``'s,
documented in ``docs/api.md`` (Cache section)."""

from __future__ import annotations

from quart import Blueprint, Response, request

from nexus.api.context import api_context
from nexus.api.params import BadParameter, parse_cursor, parse_filter, parse_limit
from nexus.api.serialize import dumps
from nexus.cache.report import cache_report_json
from nexus.records import CACHE_GROUPS, now_ms

blueprint = Blueprint("cache", __name__)
JSON = "application/json"
_MAX_OFFSET_MS = 14 * 3_600_000


@blueprint.get("/api/cache")
async def get_cache() -> Response:
    """Query: ``by`` (cause, session, account, model or day; default cause), ``utc_offset_ms``
    (for ``day``), the request filters but ``q``, and ``cursor`` / ``limit`` for the breaks."""
    flt = parse_filter(request.args, at_ms=now_ms())
    if flt.text:
        raise BadParameter("q", "the cache ledger cannot be searched by text")
    by = request.args.get("by") or "cause"
    if by not in CACHE_GROUPS:
        raise BadParameter("by", f"{by!r} is not one of {', '.join(CACHE_GROUPS)}")
    offset_text = request.args.get("utc_offset_ms") or "0"
    try:
        offset = int(offset_text)
    except ValueError:
        raise BadParameter("utc_offset_ms", "expected a whole number") from None
    if abs(offset) > _MAX_OFFSET_MS:
        raise BadParameter("utc_offset_ms", "expected at most ±14 hours in milliseconds")
    body = await cache_report_json(
        api_context().store,
        flt,
        by,
        cursor=parse_cursor(request.args),
        limit=parse_limit(request.args),
        utc_offset_ms=offset,
    )
    return Response(dumps(body), content_type=JSON)
