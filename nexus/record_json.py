"""Records ↔ their one JSON shape: what the read API sends, ``nexus logs --json`` prints, the
jsonl export archives and ``nexus.client`` reads back.

A summary is the fields of ``RequestSummary`` by name (orjson writes dataclasses natively, enums as
their values). A full record is ``detail_json``: the summary, request and response (headers as
``[name, value]`` pairs), rate-limit headers, links, timing; its ``exact`` view carries both bodies
losslessly (UTF-8 text, else base64) so ``stored_from_json`` gives the stored bytes back. Decoding
ignores keys it does not know (a newer server). Stored JSON (request bodies, assembled messages)
is embedded as stored, never re-serialised.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import orjson

from nexus.records import (
    CacheBreak,
    CacheCause,
    CacheLedgerEntry,
    ConversationBranch,
    ConversationSubtask,
    ConversationSummary,
    ConversationTree,
    Headers,
    Outcome,
    RequestSummary,
    StoredRequest,
    TrafficClass,
    Usage,
)

BodyView = Literal["parsed", "exact"]
R = TypeVar("R")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# -- encode ---------------------------------------------------------------------------------------
def headers_json(headers: Headers) -> list[list[str]]:
    return [[name, value] for name, value in headers]


def embedded_json(raw: bytes | None) -> Any:
    """Stored JSON placed in a document as is (an orjson Fragment); None when it is not JSON."""
    if not raw:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return orjson.Fragment(raw)


def exact_text(raw: bytes) -> dict[str, str]:
    """Body bytes carried losslessly: as text when UTF-8 (most are), else base64."""
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def detail_json(stored: StoredRequest, view: BodyView = "parsed") -> dict[str, Any]:
    """The full record. ``parsed``: bodies as JSON values for people and scripts; ``exact``: the
    bytes as stored, for readers that must reproduce them (``nexus.client``, the jsonl export)."""
    s = stored.summary
    request: dict[str, Any] = {
        "method": s.method,
        "path": s.path,
        "query": stored.query,
        "headers": headers_json(stored.request_headers),
        "body_bytes": len(stored.request_body),
    }
    response: dict[str, Any] = {
        "status": s.status,
        "headers": headers_json(stored.response_headers),
        "is_streaming": s.is_streaming,
        "body_bytes": len(stored.response_body),
        "message": embedded_json(stored.response_message),
    }
    if view == "exact":
        request["body_exact"] = exact_text(stored.request_body)
        response["body_exact"] = exact_text(stored.response_body)
    else:
        request["body"] = embedded_json(stored.request_body)
    return {
        "id": s.id,
        "summary": s,
        "request": request,
        "response": response,
        "usage": s.usage,
        "cache_break": s.cache_break,
        "ratelimit": headers_json(stored.ratelimit),
        "links": {
            "traffic_class": s.traffic_class,
            "conversation_id": s.conversation_id,
            "parent_request_id": s.parent_request_id,
            "branch": s.branch,
            "subtask_of": s.subtask_of,
            "agent_id": s.agent_id,
        },
        "timing": {
            "started_at_ms": s.started_at_ms,
            "first_byte_at_ms": stored.first_byte_at_ms,
            "ttfb_ms": s.ttfb_ms,
            "duration_ms": s.duration_ms,
        },
        "auth_mode": stored.auth_mode,
    }


# -- decode ---------------------------------------------------------------------------------------
_FIELDS: dict[type, frozenset[str]] = {}


def _build(cls: type[R], data: Mapping[str, Any], **convert: Any) -> R:
    """``cls`` from a JSON object: unknown keys (a newer server) are ignored."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in names}
    for name, fn in convert.items():
        if values.get(name) is not None:
            values[name] = fn(values[name])
    return cls(**values)


def summary_from_json(data: Mapping[str, Any]) -> RequestSummary:
    return _build(
        RequestSummary,
        data,
        usage=lambda u: _build(Usage, u),
        outcome=Outcome,
        traffic_class=TrafficClass,
        cache_break=lambda c: _build(CacheBreak, c, cause=CacheCause),
    )


def cache_entry_from_json(data: Mapping[str, Any]) -> CacheLedgerEntry:
    """One break of ``GET /api/cache`` (``nexus.cache.report``)."""
    return _build(CacheLedgerEntry, data, cause=CacheCause)


def stored_from_json(data: Mapping[str, Any]) -> StoredRequest:
    """A full record from its ``exact`` view (``detail_json(stored, "exact")``)."""
    request, response = data["request"], data["response"]
    message = response.get("message")
    return StoredRequest(
        summary=summary_from_json(data["summary"]),
        request_headers=headers_from_json(request["headers"]),
        response_headers=headers_from_json(response["headers"]),
        ratelimit=headers_from_json(data.get("ratelimit") or []),
        request_body=exact_bytes(request.get("body_exact")),
        response_body=exact_bytes(response.get("body_exact")),
        response_message=None if message is None else orjson.dumps(message),
        auth_mode=data.get("auth_mode", "passthrough"),
        query=request.get("query", ""),
        first_byte_at_ms=(data.get("timing") or {}).get("first_byte_at_ms"),
    )


def conversation_summary_from_json(data: Mapping[str, Any]) -> ConversationSummary:
    return _build(ConversationSummary, data, models=tuple)


def tree_from_json(data: Mapping[str, Any]) -> ConversationTree:
    return ConversationTree(
        summary=conversation_summary_from_json(data["summary"]),
        nodes=[summary_from_json(n) for n in data["nodes"]],
        branches=[_build(ConversationBranch, b) for b in data["branches"]],
        subtasks=[_build(ConversationSubtask, s) for s in data["subtasks"]],
    )


def headers_from_json(pairs: Sequence[Sequence[str]]) -> Headers:
    return tuple((str(k), str(v)) for k, v in pairs)


def exact_bytes(body: Mapping[str, str] | None) -> bytes:
    """The inverse of ``exact_text``."""
    if not body:
        return b""
    if "text" in body:
        return body["text"].encode("utf-8")
    return base64.b64decode(body["base64"], validate=True)
