"""``GET /api/openapi.json``: an OpenAPI 3.1 description of the read API, for tools and clients.

The paths come from the routes the app actually registered (its ``url_map``), each looked up in
``_OPERATIONS`` by method and Quart rule; a route with no entry there is an error, not a silent
gap (the test compares the document with the app's routes). Path parameters come from the rule
and the list filters from the names the routes parse (``params.FILTER_PARAMS``; one without help
here is a KeyError), so the document cannot drift from the routes on names. Prose lives in
``docs/api.md``; this is the machine-readable index.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Quart, Response, current_app

from nexus import __version__
from nexus.api.params import FILTER_PARAMS, MAX_LIMIT
from nexus.api.serialize import dumps
from nexus.records import CONVERSATION_FILTER_LIMITS

blueprint = Blueprint("openapi", __name__)

_FILTER_HELP = {
    "since": "start time ≥: epoch ms, ISO 8601, or an age such as 15m, 2h, 7d",
    "until": "start time <: same forms as since",
    "host": "Host header the client used, exact",
    "account": "account id (team mode), exact",
    "model": "substring of the model name, any case (opus matches claude-opus-4-8)",
    "status": "an HTTP status (429), a class (4xx, 5xx) or 'error' (no status or ≥ 400)",
    "class": "traffic class: turn, subagent, compaction, quota, count_tokens, title, …",
    "session": "Claude Code session id",
    "conversation_id": "conversation id (the id of its first request)",
    "q": "full-text search over user and assistant text; every word must occur",
}
_EXTENSION_KEY = "nexus.openapi"
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <name> or <converter:name>
_NOT_DOCUMENTED = {"static"}  # Quart's own static route, not part of the API
_ALWAYS_ALLOWED = {"HEAD", "OPTIONS"}  # added to every route by Quart


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _ok(description: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {media: {}}},
        "default": {"description": '{"error": {"type", "message", "parameter"?}}'},
    }


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    """What each (method, Quart rule) does; path parameters are added from the rule."""
    filters = [_query(n, _FILTER_HELP[n]) for n in FILTER_PARAMS]
    conversation_filters = [f for f in filters if f["name"] not in CONVERSATION_FILTER_LIMITS]
    paging = [
        _query("cursor", "next_cursor of the previous page"),
        _query("limit", f"page size, 1–{MAX_LIMIT} (default 100)", {"type": "integer"}),
    ]
    branch = _query("branch", "branch name (default main)")
    started = {
        **_ok("the stored analysis, unchanged"),
        "202": {"description": "the analysis job, pending or running", "content": {"application/json": {}}},
    }  # fmt: skip
    analysis_body = (
        '{"conversation_id", "branch"?, "force"?, "prompt"? (a custom prompt\'s text), '
        '"prompt_name"?}; 503 without GEMINI_API_KEY'
    )
    which_prompt = _query("prompt", "a job's prompt_version: that prompt's job (default: built-in)")
    return {
        ("GET", "/health"): {
            "summary": "liveness (no key needed): status, version, proxy_port (where the proxy listens)",
            "responses": _ok("ok"),
        },
        ("GET", "/api/openapi.json"): {
            "summary": "this document",
            "responses": _ok("OpenAPI 3.1 document"),
        },
        ("GET", "/api/requests"): {
            "summary": "request summaries, newest first",
            "parameters": filters + paging,
            "responses": _ok("{items: [summary], next_cursor}"),
        },
        ("GET", "/api/requests/count"): {
            "summary": "how many requests match",
            "parameters": filters,
            "responses": _ok("{count}"),
        },
        ("GET", "/api/requests/<request_id>"): {
            "summary": "one request in full",
            "parameters": [_query("bodies", "parsed (default) or exact (bodies byte for byte)")],
            "responses": _ok("the full record"),
        },
        ("GET", "/api/requests/<request_id>/raw"): {
            "summary": "the exact request body",
            "responses": _ok("request body bytes"),
        },
        ("GET", "/api/requests/<request_id>/sse"): {
            "summary": "the response body as received (SSE for streams)",
            "responses": _ok("response bytes", "text/event-stream"),
        },
        ("GET", "/api/conversations"): {
            "summary": "conversations, newest activity first",
            "parameters": conversation_filters + paging,
            "responses": _ok("{items: [conversation summary], next_cursor}"),
        },
        ("GET", "/api/conversations/count"): {
            "summary": "how many conversations match",
            "parameters": conversation_filters,
            "responses": _ok("{count}"),
        },
        ("GET", "/api/conversations/<conversation_id>"): {
            "summary": "one conversation as a tree",
            "responses": _ok("{id, summary, nodes, branches, subtasks}"),
        },
        ("POST", "/api/analyses"): {
            "summary": f"start the AI analysis of a conversation branch: {analysis_body}",
            "responses": started,
        },
        ("GET", "/api/analyses"): {
            "summary": "analysis jobs, without their results",
            "parameters": [
                _query("state", "pending, running, done or failed"),
                _query("conversation_id", "only this conversation's jobs"),
                _query("limit", f"at most this many, 1–{MAX_LIMIT}", {"type": "integer"}),
            ],
            "responses": _ok("{items: [job], prompt_version}"),
        },
        ("GET", "/api/analyses/<conversation_id>/<branch>"): {
            "summary": "one branch's analysis job with its result",
            "parameters": [which_prompt],
            "responses": _ok("job with result"),
        },
        ("POST", "/api/conversations/<conversation_id>/analyses"): {
            "summary": "start the analysis of a branch (the same as POST /api/analyses; body "
            '{"prompt"?, "prompt_name"?})',
            "parameters": [branch, _query("force", "1 or true: analyse again even if stored")],
            "responses": started,
        },
        ("GET", "/api/conversations/<conversation_id>/analyses"): {
            "summary": "one branch's analysis job with its result",
            "parameters": [branch, which_prompt],
            "responses": _ok("job with result"),
        },
        ("GET", "/api/usage"): {
            "summary": "token and cost totals (usage area)",
            "responses": _ok("usage report"),
        },
        ("GET", "/api/cache"): {
            "summary": "the cache ledger: prompt-cache breaks, their causes and excess cost",
            "parameters": [
                _query("by", "group totals by cause (default), session, account, model or day"),
                _query("utc_offset_ms", "shift for day groups", {"type": "integer"}),
                *[f for f in filters if f["name"] != "q"],
                *paging,
            ],
            "responses": _ok("{by, totals, groups, breaks: [break], next_cursor}"),
        },
        ("GET", "/api/windows"): {
            "summary": "5-hour and 7-day rate-limit windows",
            "responses": _ok("windows report"),
        },
        ("GET", "/api/prompts"): {
            "summary": "the prompt library /mcp serves, and its broken files",
            "responses": _ok("{prompts: [{name, description, arguments, path}], errors}"),
        },
        ("GET", "/api/prompts/<name>"): {
            "summary": "one prompt with its template",
            "responses": _ok("{name, description, arguments, path, template}"),
        },
        ("GET", "/api/prompts/<name>/render"): {
            "summary": "the prompt rendered; each query parameter is an argument",
            "responses": _ok("{name, text}"),
        },
        ("GET", "/api/events"): {
            "summary": "live feed: request, link, cache_break and analysis events (SSE)",
            "parameters": [
                _query("after", "resume after this event id (Last-Event-ID wins)"),
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
            ],
            "responses": _ok("event stream", "text/event-stream"),
        },
    }


class UndocumentedRoute(RuntimeError):
    """The app serves a route ``_OPERATIONS`` does not describe: add its entry."""


def build_document(app: Quart) -> dict[str, Any]:
    """The OpenAPI document of every route registered on ``app``."""
    operations = _operations()
    paths: dict[str, dict[str, Any]] = {}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in _NOT_DOCUMENTED:
            continue
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        in_path = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _RULE_ARGUMENT.findall(rule.rule)
        ]
        for method in sorted((rule.methods or set()) - _ALWAYS_ALLOWED):
            operation = operations.get((method, rule.rule))
            if operation is None:
                missing.append(f"{method} {rule.rule}")
                continue
            parameters = in_path + operation.get("parameters", [])
            entry = {**operation, **({"parameters": parameters} if parameters else {})}
            paths.setdefault(path, {})[method.lower()] = entry
    if missing:
        raise UndocumentedRoute(f"no OpenAPI entry in {__name__} for: {', '.join(missing)}")
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
        "paths": paths,
    }


@blueprint.get("/api/openapi.json")
async def openapi() -> Response:
    # Built on first use, once every blueprint is registered, and kept for the app's life.
    document = current_app.extensions.get(_EXTENSION_KEY)
    if document is None:
        document = current_app.extensions[_EXTENSION_KEY] = dumps(build_document(current_app))
    return Response(document, content_type="application/json")
