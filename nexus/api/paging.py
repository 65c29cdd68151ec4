"""One page of a list route: ``limit`` and ``cursor`` read from the query string, the page asked
of the store and written as ``{"items", "next_cursor"}``. The one place that says a cursor the
store cannot read is the caller's 400, not a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from quart import Response

from nexus.api.params import BadParameter, parse_cursor, parse_limit
from nexus.api.serialize import page_body
from nexus.records import Page

JSON = "application/json"


async def page_response(
    args: Mapping[str, str], fetch: Callable[[str | None, int], Awaitable[Page[Any]]]
) -> Response:
    """``fetch(cursor, limit)``'s page as the response (``fetch`` raises ValueError for a cursor
    it did not issue)."""
    limit = parse_limit(args)
    cursor = parse_cursor(args)
    try:
        page = await fetch(cursor, limit)
    except ValueError as exc:
        if cursor is None:
            raise
        raise BadParameter("cursor", "not a cursor this server issued") from exc
    return Response(page_body(page), content_type=JSON)
