"""The jsonl export: one full record per line, streamed page by page, and its exact inverse.

This module owns the line format (``nexus_export: 1``). Bodies are carried so that reading a line
back gives the stored bytes exactly: a body that is valid UTF-8 is a JSON string
(``"body_encoding": "utf-8"``), any other body is base64 (``"body_encoding": "base64"``). Bodies are
never scrubbed here (that would break the round trip); headers are re-checked for secrets.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from nexus.export.scrub import scrub_headers, scrub_query, scrub_text
from nexus.export.source import ExportSource, ProgressCallback, iter_records
from nexus.records import (
    Headers,
    Outcome,
    RequestFilter,
    RequestSummary,
    StoredRequest,
    TrafficClass,
    Usage,
)

FORMAT_VERSION = 1

Write = Callable[[bytes], object]


def encode_body(body: bytes) -> tuple[str, str]:
    """``(text, encoding)``: the body as a JSON-safe string and how to get the bytes back."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(text, validate=True)
    raise ValueError(f"unknown body_encoding {encoding!r}")


def _json_fragment(data: bytes | None) -> object:
    """The assembled message inline as JSON when it parses, else as a string (never lost)."""
    if data is None:
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"unparsed": data.decode("utf-8", "replace")}
    return orjson.Fragment(data)


def _headers(headers: Headers) -> list[list[str]]:
    return [[name, value] for name, value in headers]


def record_to_dict(record: StoredRequest) -> dict[str, object]:
    s = record.summary
    req_body, req_enc = encode_body(record.request_body)
    resp_body, resp_enc = encode_body(record.response_body)
    return {
        "nexus_export": FORMAT_VERSION,
        "id": s.id,
        "started_at_ms": s.started_at_ms,
        "duration_ms": s.duration_ms,
        "ttfb_ms": s.ttfb_ms,
        "first_byte_at_ms": record.first_byte_at_ms,
        "method": s.method,
        "host": s.host,
        "path": s.path,
        "query": scrub_query(record.query),
        "account_id": s.account_id,
        "client_key_id": s.client_key_id,
        "auth_mode": record.auth_mode,
        "model": s.model,
        "is_streaming": s.is_streaming,
        "status": s.status,
        "outcome": s.outcome.value,
        "error": None if s.error is None else scrub_text(s.error),
        "session_id": s.session_id,
        "agent_id": s.agent_id,
        "upstream_request_id": s.upstream_request_id,
        "stop_reason": s.stop_reason,
        "usage": _usage_dict(s.usage),
        "cost_usd_micros": s.cost_usd_micros,
        "links": {
            "traffic_class": None if s.traffic_class is None else s.traffic_class.value,
            "conversation_id": s.conversation_id,
            "parent_request_id": s.parent_request_id,
            "branch": s.branch,
            "subtask_of": s.subtask_of,
        },
        "summary": {
            "user_preview": s.user_preview,
            "reply_preview": s.reply_preview,
            "message_count": s.message_count,
            "tool_count": s.tool_count,
            "tool_use_count": s.tool_use_count,
        },
        "request": {
            "headers": _headers(scrub_headers(record.request_headers)),
            "body": req_body,
            "body_encoding": req_enc,
        },
        "response": {
            "headers": _headers(scrub_headers(record.response_headers)),
            "ratelimit": _headers(record.ratelimit),
            "body": resp_body,
            "body_encoding": resp_enc,
            "message": _json_fragment(record.response_message),
        },
    }


def _usage_dict(u: Usage) -> dict[str, int]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_creation_5m_tokens": u.cache_creation_5m_tokens,
        "cache_creation_1h_tokens": u.cache_creation_1h_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
    }


def record_to_line(record: StoredRequest) -> bytes:
    """One jsonl line, newline included."""
    return orjson.dumps(record_to_dict(record), option=orjson.OPT_APPEND_NEWLINE)


def record_from_line(line: bytes | str) -> StoredRequest:
    """The inverse of ``record_to_line``: bodies come back byte for byte."""
    d: dict[str, Any] = orjson.loads(line)
    if d.get("nexus_export") != FORMAT_VERSION:
        raise ValueError(f"not a nexus export line (version {d.get('nexus_export')!r})")
    links = d["links"]
    summ = d["summary"]
    req = d["request"]
    resp = d["response"]
    cls = links["traffic_class"]
    message = resp["message"]
    summary = RequestSummary(
        id=d["id"],
        started_at_ms=d["started_at_ms"],
        duration_ms=d["duration_ms"],
        ttfb_ms=d["ttfb_ms"],
        method=d["method"],
        path=d["path"],
        host=d["host"],
        account_id=d["account_id"],
        client_key_id=d["client_key_id"],
        model=d["model"],
        is_streaming=d["is_streaming"],
        status=d["status"],
        outcome=Outcome(d["outcome"]),
        error=d["error"],
        session_id=d["session_id"],
        agent_id=d["agent_id"],
        upstream_request_id=d["upstream_request_id"],
        usage=Usage(**d["usage"]),
        cost_usd_micros=d["cost_usd_micros"],
        stop_reason=d["stop_reason"],
        user_preview=summ["user_preview"],
        reply_preview=summ["reply_preview"],
        message_count=summ["message_count"],
        tool_count=summ["tool_count"],
        tool_use_count=summ["tool_use_count"],
        traffic_class=None if cls is None else TrafficClass(cls),
        conversation_id=links["conversation_id"],
        parent_request_id=links["parent_request_id"],
        branch=links["branch"],
        subtask_of=links["subtask_of"],
    )
    return StoredRequest(
        summary=summary,
        request_headers=_tuple_headers(req["headers"]),
        response_headers=_tuple_headers(resp["headers"]),
        ratelimit=_tuple_headers(resp["ratelimit"]),
        request_body=decode_body(req["body"], req["body_encoding"]),
        response_body=decode_body(resp["body"], resp["body_encoding"]),
        response_message=None if message is None else orjson.dumps(message),
        auth_mode=d["auth_mode"],
        query=d["query"],
        first_byte_at_ms=d["first_byte_at_ms"],
    )


def _tuple_headers(rows: list[list[str]]) -> Headers:
    return tuple((name, value) for name, value in rows)


async def write_jsonl(
    source: ExportSource,
    flt: RequestFilter,
    write: Write,
    *,
    branch: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Stream every matching record as one line each, newest first; returns the count written."""
    count = 0
    async for record in iter_records(source, flt, branch=branch):
        write(record_to_line(record))
        count += 1
        if on_progress is not None:
            on_progress(count)
    return count
