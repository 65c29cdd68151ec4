"""``GET /api/openapi.json``: an OpenAPI 3.1 description of the read API, for tools and clients.

Built once from the same parameter list the routes parse (``params.FILTER_PARAMS``), so the two
cannot drift apart on names. Prose lives in ``docs/api.md``; this is the machine-readable index.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from nexus import __version__
from nexus.api.params import MAX_LIMIT
from nexus.api.serialize import dumps
from nexus.records import CONVERSATION_FILTER_LIMITS

blueprint = Blueprint("openapi", __name__)

_FILTER_HELP = {
    "since": "start time ≥: epoch ms, ISO 8601, or an age such as 15m, 2h, 7d",
    "until": "start time <: same forms as since",
    "host": "Host header the client used, exact",
    "account": "account id (team mode), exact",
    "model": "substring of the model name (opus matches claude-opus-4-8)",
    "status": "an HTTP status (429), a class (4xx, 5xx) or 'error' (no status or ≥ 400)",
    "class": "traffic class: turn, subagent, compaction, quota, count_tokens, title, …",
    "session": "Claude Code session id",
    "conversation_id": "conversation id (the id of its first request)",
    "q": "full-text search over user and assistant text; every word must occur",
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(description: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {media: {}}},
        "default": {"description": '{"error": {"type", "message", "parameter"?}}'},
    }


def build_document() -> dict[str, Any]:
    filters = [_query(n, _FILTER_HELP[n]) for n in _FILTER_HELP]
    conversation_filters = [f for f in filters if f["name"] not in CONVERSATION_FILTER_LIMITS]
    paging = [
        _query("cursor", "next_cursor of the previous page"),
        _query("limit", f"page size, 1–{MAX_LIMIT} (default 100)", {"type": "integer"}),
    ]
    get = "get"
    return {
        "openapi": "3.1.0",
        "info": {"title": "Nexus read API", "version": __version__},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "dashboardKey": {"type": "apiKey", "in": "header", "name": "X-Dashboard-Key"},
            }
        },
        "security": [{"bearer": []}, {"dashboardKey": []}],
        "paths": {
            "/health": {get: {"summary": "liveness (no key needed)", "responses": _ok("ok")}},
            "/api/requests": {
                get: {
                    "summary": "request summaries, newest first",
                    "parameters": filters + paging,
                    "responses": _ok("{items: [summary], next_cursor}"),
                }
            },
            "/api/requests/count": {
                get: {
                    "summary": "how many requests match",
                    "parameters": filters,
                    "responses": _ok("{count}"),
                }
            },  # fmt: skip
            "/api/requests/{id}": {
                get: {
                    "summary": "one request in full",
                    "parameters": [
                        _path("id"),
                        _query("bodies", "parsed (default) or exact (bodies byte for byte)"),
                    ],
                    "responses": _ok("the full record"),
                }
            },
            "/api/requests/{id}/raw": {
                get: {
                    "summary": "the exact request body",
                    "parameters": [_path("id")],
                    "responses": _ok("request body bytes"),
                }
            },  # fmt: skip
            "/api/requests/{id}/sse": {
                get: {
                    "summary": "the response body as received (SSE for streams)",
                    "parameters": [_path("id")],
                    "responses": _ok("response bytes", "text/event-stream"),
                }
            },  # fmt: skip
            "/api/conversations": {
                get: {
                    "summary": "conversations, newest activity first",
                    "parameters": conversation_filters + paging,
                    "responses": _ok("{items: [conversation summary], next_cursor}"),
                }
            },  # fmt: skip
            "/api/conversations/count": {
                get: {
                    "summary": "how many conversations match",
                    "parameters": conversation_filters,
                    "responses": _ok("{count}"),
                }
            },  # fmt: skip
            "/api/conversations/{id}": {
                get: {
                    "summary": "one conversation as a tree",
                    "parameters": [_path("id")],
                    "responses": _ok("{id, summary, nodes, branches, subtasks}"),
                }
            },  # fmt: skip
            "/api/usage": {
                get: {
                    "summary": "token and cost totals (usage area)",
                    "responses": _ok("usage report"),
                }
            },  # fmt: skip
            "/api/windows": {
                get: {
                    "summary": "5-hour and 7-day rate-limit windows",
                    "responses": _ok("windows report"),
                }
            },  # fmt: skip
            "/api/prompts": {
                get: {
                    "summary": "the prompt library /mcp serves, and its broken files",
                    "responses": _ok("{prompts: [{name, description, arguments, path}], errors}"),
                }
            },  # fmt: skip
            "/api/prompts/{name}": {
                get: {
                    "summary": "one prompt with its template",
                    "parameters": [_path("name")],
                    "responses": _ok("{name, description, arguments, path, template}"),
                }
            },  # fmt: skip
            "/api/prompts/{name}/render": {
                get: {
                    "summary": "the prompt rendered; each query parameter is an argument",
                    "parameters": [_path("name")],
                    "responses": _ok("{name, text}"),
                }
            },  # fmt: skip
            "/api/events": {
                get: {
                    "summary": "live feed: request, link and analysis events (SSE)",
                    "parameters": [
                        _query("after", "resume after this event id (Last-Event-ID wins)"),
                        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                    ],
                    "responses": _ok("event stream", "text/event-stream"),
                }
            },
        },
    }


_DOCUMENT = dumps(build_document())


@blueprint.get("/api/openapi.json")
async def openapi() -> Response:
    return Response(_DOCUMENT, content_type="application/json")
