"""The jsonl export: one full record per line, streamed page by page, and its exact inverse.

A line is the record's one JSON shape (``nexus.record_json.detail_json``, its ``exact`` view: what
``GET /api/requests/{id}?bodies=exact`` answers) marked ``"nexus_export": 2``. Bodies are carried
so that reading a line back gives the stored bytes exactly: valid UTF-8 as text
(``"body_exact": {"text": …}``), anything else as base64 (``{"base64": …}``). Bodies are never
scrubbed here (that would break the round trip); headers, the query and the error are re-checked
for secrets. Lines of the first format (``"nexus_export": 1``) are still read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson

from nexus.export.scrub import scrub_headers, scrub_query, scrub_text
from nexus.export.source import ExportSource, ProgressCallback, iter_records
from nexus.record_json import detail_json, dumps, stored_from_json
from nexus.records import RequestFilter, StoredRequest

FORMAT_VERSION = 2

Write = Callable[[bytes], object]


def record_to_dict(record: StoredRequest) -> dict[str, object]:
    s = record.summary
    scrubbed = dataclasses.replace(
        record,
        summary=s if s.error is None else dataclasses.replace(s, error=scrub_text(s.error)),
        request_headers=scrub_headers(record.request_headers),
        response_headers=scrub_headers(record.response_headers),
        query=scrub_query(record.query),
    )
    return {"nexus_export": FORMAT_VERSION, **detail_json(scrubbed, "exact")}


def record_to_line(record: StoredRequest) -> bytes:
    """One jsonl line, newline included."""
    return dumps(record_to_dict(record)) + b"\n"


def record_from_line(line: bytes | str) -> StoredRequest:
    """The inverse of ``record_to_line``: bodies come back byte for byte."""
    d: dict[str, Any] = orjson.loads(line)
    version = d.get("nexus_export")
    if version == 1:
        d = _from_first_format(d)
    elif version != FORMAT_VERSION:
        raise ValueError(f"not a nexus export line (version {version!r})")
    return stored_from_json(d)


def _from_first_format(d: dict[str, Any]) -> dict[str, Any]:
    """A ``nexus_export: 1`` line (flat summary fields, ``body`` + ``body_encoding``) in the
    record's JSON shape, so one decoder reads both."""
    links, req, resp = d["links"], d["request"], d["response"]
    summary = {k: v for k, v in d.items() if k not in ("links", "summary", "request", "response")}
    summary.update(d["summary"], **links)
    summary["traffic_class"] = links["traffic_class"]
    message = resp["message"]
    return {
        "summary": summary,
        "request": {
            "query": d["query"],
            "headers": req["headers"],
            "body_exact": {_V1_ENCODING[req["body_encoding"]]: req["body"]},
        },
        "response": {
            "headers": resp["headers"],
            "body_exact": {_V1_ENCODING[resp["body_encoding"]]: resp["body"]},
            "message": None if isinstance(message, dict) and "unparsed" in message else message,
        },
        "ratelimit": resp["ratelimit"],
        "timing": {"first_byte_at_ms": d["first_byte_at_ms"]},
        "auth_mode": d["auth_mode"],
    }


_V1_ENCODING = {"utf-8": "text", "base64": "base64"}


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
