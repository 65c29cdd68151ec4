"""Captured Claude Code CLI traffic (tests/data/claude_code/) replayed as records."""

from __future__ import annotations

import json
from pathlib import Path

from nexus.recorder.derive import derive
from nexus.records import Exchange, RequestRecord, new_id

DATA = Path(__file__).parent.parent / "data" / "claude_code"


def captured_records(
    name: str, start_ms: int = 1_764_000_000_000, *, version: str | None = None
) -> list[RequestRecord]:
    """One record per captured exchange, one second apart, in capture order. ``version`` reads the
    scrubbed captures of that CLI version (tests/data/claude_code/<version>/)."""
    folder = DATA / version if version else DATA
    capture = json.loads((folder / f"{name}.json").read_text())
    records = []
    for i, ex in enumerate(capture["exchanges"]):
        started = start_ms + i * 1000
        response = ex["response"]
        exchange = Exchange(
            id=new_id(started),
            started_at_ms=started,
            ended_at_ms=started + 500,
            first_byte_at_ms=started + 100,
            method=ex["method"],
            path=ex["path"],
            query=ex["query"],
            host="localhost:3000",
            request_headers=tuple((k, v) for k, v in ex["headers"]),
            request_body=(ex["body"] or "").encode(),
            status=response["status"],
            response_headers=tuple((k, v) for k, v in response["headers"]),
            response_body=(response["body"] or "").encode(),
        )
        records.append(derive(exchange))
    return records
