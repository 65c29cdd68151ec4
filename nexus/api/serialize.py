"""The API's response bytes: pages, errors and the SSE frames of the live feed.

A record's JSON shape is ``nexus.record_json``'s (shared with the client, ``nexus logs --json``
and the jsonl export); this module frames it for HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from nexus.record_json import BodyView, detail_json, dumps
from nexus.records import LiveEvent, Page, StoredRequest

__all__ = ["BodyView", "dumps"]


def error_body(error_type: str, message: str, parameter: str | None = None) -> bytes:
    error: dict[str, str] = {"type": error_type, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return orjson.dumps({"error": error})


def page_body(page: Page[Any]) -> bytes:
    return dumps({"items": page.items, "next_cursor": page.next_cursor})


def detail_body(stored: StoredRequest, view: BodyView = "parsed") -> bytes:
    """The full record (``nexus.record_json.detail_json``)."""
    return dumps(detail_json(stored, view))


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
