"""The har export: the recorded HTTP exchanges as HAR 1.2, for HTTP tools (browsers' network
panels, HAR viewers, replay tools).

Streamed: the ``log`` object is written around the entries one record at a time, so a HAR of the
whole store needs no more memory than a HAR of one request. URLs are the ones the client called
(``http://<host><path>?<query>``: the client spoke to Nexus). Timings: ``wait`` is the time to
first byte, ``receive`` the rest. Bodies are scrubbed of key-shaped strings (a HAR is made to be
shared); a body that is not UTF-8 is carried as base64 (``content.encoding`` for responses; the
non-standard ``postData._encoding`` for requests). Headers come redacted and are re-checked.
Nexus's own fields (class, conversation, usage, cost) sit under ``_nexus`` per entry.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson

from nexus import __version__
from nexus.export.scrub import scrub_headers, scrub_query, scrub_text
from nexus.export.source import ExportSource, ProgressCallback, iter_records
from nexus.records import Headers, RequestFilter, StoredRequest

WriteBytes = Callable[[bytes], object]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _har_headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in scrub_headers(headers)]


def _mime(headers: Headers, default: str) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value
    return default


def _text(body: bytes) -> tuple[str, str | None]:
    try:
        return scrub_text(body.decode("utf-8")), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def har_entry(record: StoredRequest) -> dict[str, Any]:
    s = record.summary
    query = scrub_query(record.query)
    url = f"http://{s.host}{s.path}" + (f"?{query}" if query else "")
    req_text, req_enc = _text(record.request_body)
    resp_text, resp_enc = _text(record.response_body)
    post: dict[str, Any] = {
        "mimeType": _mime(record.request_headers, "application/json"),
        "text": req_text,
    }
    if req_enc:
        post["_encoding"] = req_enc
    content: dict[str, Any] = {
        "size": len(record.response_body),
        "mimeType": _mime(record.response_headers, "application/octet-stream"),
        "text": resp_text,
    }
    if resp_enc:
        content["encoding"] = resp_enc
    ttfb = s.ttfb_ms if s.ttfb_ms is not None else s.duration_ms
    request: dict[str, Any] = {
        "method": s.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _har_headers(record.request_headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(query, True)],
        "headersSize": -1,
        "bodySize": len(record.request_body),
    }
    if record.request_body or s.method not in ("GET", "HEAD"):
        request["postData"] = post
    entry: dict[str, Any] = {
        "startedDateTime": _iso(s.started_at_ms),
        "time": s.duration_ms,
        "request": request,
        "response": {
            "status": s.status or 0,
            "statusText": _status_text(s.status),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(record.response_headers),
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(record.response_body),
        },
        "cache": {},
        "timings": {
            "send": 0,
            "wait": max(0, ttfb),
            "receive": max(0, s.duration_ms - ttfb),
        },
        "_nexus": {
            "id": s.id,
            "upstream_request_id": s.upstream_request_id,
            "outcome": s.outcome.value,
            "error": None if s.error is None else scrub_text(s.error),
            "traffic_class": None if s.traffic_class is None else s.traffic_class.value,
            "conversation_id": s.conversation_id,
            "parent_request_id": s.parent_request_id,
            "branch": s.branch,
            "model": s.model,
            "usage": {
                "input_tokens": s.usage.input_tokens,
                "output_tokens": s.usage.output_tokens,
                "cache_creation_input_tokens": s.usage.cache_creation_input_tokens,
                "cache_read_input_tokens": s.usage.cache_read_input_tokens,
            },
            "cost_usd_micros": s.cost_usd_micros,
        },
    }
    return entry


def _status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def write_har(
    source: ExportSource,
    flt: RequestFilter,
    write: WriteBytes,
    *,
    branch: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Stream a HAR 1.2 document of every matching exchange (newest first); returns the count."""
    creator = orjson.dumps({"name": "nexus", "version": __version__})
    write(b'{"log":{"version":"1.2","creator":' + creator + b',"entries":[\n')
    count = 0
    async for record in iter_records(source, flt, branch=branch):
        write((b",\n" if count else b"") + orjson.dumps(har_entry(record)))
        count += 1
        if on_progress is not None:
            on_progress(count)
    write(b"\n]}}\n")
    return count
