"""Records → the API's JSON bytes (orjson), and the SSE frames of the live feed.

Records are dataclasses, which orjson writes natively (field names become keys, enums their
values), so a summary row on the wire has exactly the field names of ``RequestSummary``. Stored
JSON (request bodies, assembled messages) is embedded as it was stored, never re-serialised. This
module owns the wire shape of every API response; ``nexus.client`` reads it back into records.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Literal

import orjson

from nexus.records import Headers, LiveEvent, Page, StoredRequest

BodyView = Literal["parsed", "exact"]


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def error_body(error_type: str, message: str, parameter: str | None = None) -> bytes:
    error: dict[str, str] = {"type": error_type, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return orjson.dumps({"error": error})


def page_body(page: Page[Any]) -> bytes:
    return dumps({"items": page.items, "next_cursor": page.next_cursor})


def headers_json(headers: Headers) -> list[list[str]]:
    return [[name, value] for name, value in headers]


def embedded_json(raw: bytes | None) -> Any:
    """Stored JSON placed in a response as is (an orjson Fragment); None when it is not JSON."""
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


def detail_body(stored: StoredRequest, view: BodyView = "parsed") -> bytes:
    """The full record. ``parsed``: bodies as JSON values for people and scripts; ``exact``: the
    bytes as stored, for clients that must reproduce them (``nexus.client``, export)."""
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
    return dumps(
        {
            "id": s.id,
            "summary": s,
            "request": request,
            "response": response,
            "usage": s.usage,
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
    )


def event_frames(events: Iterable[LiveEvent]) -> bytes:
    """SSE frames: ``id`` is the resume point, ``event`` the kind, ``data`` one line of JSON."""
    out = bytearray()
    for event in events:
        out += b"id: %d\nevent: %s\ndata: " % (event.seq, event.kind.encode("ascii", "replace"))
        # orjson never emits raw newlines, so one data line suffices.
        if event.summary is None:
            out += dumps({"ref_id": event.ref_id, "at_ms": event.at_ms})
        else:  # the summary row itself, with the event's time in front
            out += b'{"at_ms":%d,' % event.at_ms + dumps(event.summary)[1:]
        out += b"\n\n"
    return bytes(out)


def connected_frame(seq: int, retry_ms: int, skipped: int = 0) -> bytes:
    """The first frame of a feed: its ``id`` is the resume point even before any event arrives;
    ``skipped`` counts the events between the asked-for resume point and this one."""
    return b'retry: %d\nid: %d\nevent: connected\ndata: {"seq":%d,"skipped":%d}\n\n' % (
        retry_ms,
        seq,
        seq,
        skipped,
    )


def comment_frame(text: str) -> bytes:
    return b": " + text.encode("utf-8") + b"\n\n"
