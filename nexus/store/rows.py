"""Turning records into rows and rows into records, for both dialects.

The sole owner of how a summary row is read (``summary_columns`` in ``queries/common/requests.sql``,
by column name) and of how a record is prepared for writing: body decomposition, compression and JSON encoding of header lists.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard

from nexus.records import (
    CacheBreak,
    CacheCause,
    Headers,
    Link,
    Outcome,
    RequestRecord,
    RequestSummary,
    TrafficClass,
    Usage,
    now_ms,
)
from nexus.store.content import Blob, CutMemory, content_hash, decompose

CODEC_NONE = 0
CODEC_ZSTD = 1
_COMPRESS_MIN_BYTES = 256
# zstandard's (de)compressor objects must not be used by two threads at once, and batches are
# prepared in worker threads (two stores in one process did corrupt a frame): one pair per thread.
_codecs = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    try:
        return _codecs.compressor  # type: ignore[no-any-return]
    except AttributeError:
        _codecs.compressor = zstandard.ZstdCompressor(level=3)
        return _codecs.compressor  # type: ignore[no-any-return]


def _decompressor() -> zstandard.ZstdDecompressor:
    try:
        return _codecs.decompressor  # type: ignore[no-any-return]
    except AttributeError:
        _codecs.decompressor = zstandard.ZstdDecompressor()
        return _codecs.decompressor  # type: ignore[no-any-return]


def compress(data: bytes) -> tuple[int, bytes]:
    if len(data) < _COMPRESS_MIN_BYTES:
        return CODEC_NONE, data
    packed = _compressor().compress(data)
    return (CODEC_ZSTD, packed) if len(packed) < len(data) else (CODEC_NONE, data)


def decompress(codec: int, data: bytes) -> bytes:
    data = bytes(data)
    return _decompressor().decompress(data) if codec == CODEC_ZSTD else data


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def pack_json(data: bytes | None) -> bytes | None:
    """A JSON value compressed when that pays; self-describing (a zstd frame never starts like JSON),
    so rows written before compression read back the same."""
    if data is None:
        return None
    codec, packed = compress(data)
    return packed if codec == CODEC_ZSTD else data


def unpack_json(data: bytes | None) -> bytes | None:
    if data is None:
        return None
    data = bytes(data)
    return _decompressor().decompress(data) if data.startswith(_ZSTD_MAGIC) else data


def headers_json(headers: Headers) -> bytes:
    return orjson.dumps([list(h) for h in headers])


def headers_from_json(raw: bytes | None) -> Headers:
    return tuple((k, v) for k, v in orjson.loads(raw)) if raw else ()


@dataclass(slots=True)
class PreparedBatch:
    """Parameter rows for one write transaction, with every blob appearing once."""

    blobs: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    requests: dict[str, dict[str, Any]]
    request_blobs: list[dict[str, Any]]
    blob_hashes: list[bytes]  # and node ids: what ``known_blobs`` learns once the batch is stored


def prepare_batch(
    records: Sequence[RequestRecord], known_blobs: set[bytes], memory: CutMemory | None = None
) -> PreparedBatch:
    """Decompose and compress everything a batch writes. ``known_blobs`` holds hashes (and message
    node ids) already stored (a cache: a miss only costs a redundant insert that the database
    ignores); ``memory``: recent bodies' cuts, so a history is not cut again."""
    blobs: dict[bytes, dict[str, Any]] = {}
    nodes: dict[bytes, dict[str, Any]] = {}
    requests: dict[str, dict[str, Any]] = {}
    request_blobs: list[dict[str, Any]] = []
    written = now_ms()

    def add_blob(blob: Blob) -> None:
        if blob.hash not in known_blobs and blob.hash not in blobs:
            codec, data = compress(blob.data)
            blobs[blob.hash] = {"hash": blob.hash, "kind": blob.kind, "size": len(blob.data),
                                "codec": codec, "data": data}  # fmt: skip

    for record in records:
        ex = record.exchange
        parts = decompose(ex.request_body, record.parsed_request, memory)
        for blob in parts.blobs:
            add_blob(blob)
        for node in parts.nodes:
            if node.id not in known_blobs:
                nodes.setdefault(node.id, {"id": node.id, "parent_id": node.parent_id,
                                           "blob_hash": node.blob_hash, "sep": node.sep})  # fmt: skip
        tail = next((c.ref for c in parts.cuts if c.kind == "chain"), None)
        direct = [c.ref for c in parts.cuts if c.kind == "blob"]
        headers = headers_json(ex.request_headers)
        header_blob = Blob(content_hash(headers), "headers", headers)
        add_blob(header_blob)
        direct.append(header_blob.hash)
        request_blobs.extend({"request_id": ex.id, "hash": h} for h in dict.fromkeys(direct))
        codec, response = compress(ex.response_body)
        u = record.usage
        requests[ex.id] = {
            "id": ex.id, "started_at_ms": ex.started_at_ms, "ended_at_ms": ex.ended_at_ms,
            "first_byte_at_ms": ex.first_byte_at_ms, "duration_ms": ex.duration_ms,
            "ttfb_ms": ex.ttfb_ms, "method": ex.method, "path": ex.path, "query": ex.query,
            "host": ex.host, "account_id": ex.account_id, "client_key_id": ex.client_key_id,
            "auth_mode": ex.auth_mode, "model": record.model, "is_streaming": record.is_streaming,
            "status": ex.status, "outcome": str(ex.outcome), "error": ex.error,
            "session_id": record.session_id, "agent_id": record.agent_id,
            "parent_agent_id": record.parent_agent_id,
            "upstream_request_id": ex.response_header("request-id"),
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_creation_tokens": u.cache_creation_input_tokens,
            "cache_creation_5m_tokens": u.cache_creation_5m_tokens,
            "cache_creation_1h_tokens": u.cache_creation_1h_tokens,
            "cache_read_tokens": u.cache_read_input_tokens,
            "cost_usd_micros": record.cost_usd_micros, "stop_reason": record.stop_reason,
            "user_preview": record.user_preview, "reply_preview": record.reply_preview,
            "message_count": record.message_count, "tool_count": record.tool_count,
            "tool_use_count": record.tool_use_count, "request_headers_hash": header_blob.hash,
            "response_headers": headers_json(ex.response_headers),
            "ratelimit": headers_json(record.ratelimit), "body_skeleton": parts.skeleton,
            "messages_tail": tail, "body_cuts": parts.cuts_json(),
            "body_bytes": len(ex.request_body), "response_body": response,
            "response_codec": codec, "response_bytes": len(ex.response_body),
            "response_message": pack_json(record.response_message), "written_at_ms": written,
        }  # fmt: skip
    return PreparedBatch(
        list(blobs.values()), list(nodes.values()), requests, request_blobs, [*blobs, *nodes]
    )


def link_row(link: Link, at_ms: int) -> dict[str, Any]:
    return {
        "request_id": link.request_id,
        "traffic_class": str(link.traffic_class),
        "conversation_id": link.conversation_id,
        "parent_request_id": link.parent_request_id,
        "branch": link.branch,
        "subtask_of": link.subtask_of,
        "agent_id": link.agent_id,
        "linked_at_ms": at_ms,
    }


def columns(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], prefix: str = ""
) -> dict[str, list[Any]]:
    """Rows as one list per column (``prefix`` + name): what a Postgres statement ``unnest``s to
    write many rows in one round trip."""
    return {prefix + name: [row[name] for row in rows] for name in names}


def opt_int(value: Any) -> int | None:
    """A nullable integer column (drivers may hand back other number types)."""
    return None if value is None else int(value)


def by_name(row: Any) -> dict[str, Any]:
    """A row as a dict, for reading many of its columns: ``sqlite3.Row`` finds a name by scanning
    every column (36 names read from a 100-row page: 2.0 ms, 0.5 ms through a dict). A dict is
    returned as it is, so a row read by several of the functions below is converted once."""
    if isinstance(row, dict):
        return row
    return dict(zip(row.keys(), row, strict=True))


def summary_from_row(row: Any) -> RequestSummary:
    """A RequestSummary from a row holding the ``summary_columns`` (read by name)."""
    row = by_name(row)
    cls = row["traffic_class"]
    return RequestSummary(
        id=row["id"],
        started_at_ms=row["started_at_ms"],
        duration_ms=row["duration_ms"],
        ttfb_ms=row["ttfb_ms"],
        method=row["method"],
        path=row["path"],
        host=row["host"],
        account_id=row["account_id"],
        client_key_id=row["client_key_id"],
        model=row["model"],
        is_streaming=bool(row["is_streaming"]),
        status=row["status"],
        outcome=Outcome(row["outcome"]),
        error=row["error"],
        session_id=row["session_id"],
        agent_id=row["agent_id"],
        upstream_request_id=row["upstream_request_id"],
        usage=usage_from_row(row),
        cost_usd_micros=row["cost_usd_micros"],
        stop_reason=row["stop_reason"],
        user_preview=row["user_preview"],
        reply_preview=row["reply_preview"],
        message_count=row["message_count"],
        tool_count=row["tool_count"],
        tool_use_count=row["tool_use_count"],
        traffic_class=TrafficClass(cls) if cls else None,
        conversation_id=row["conversation_id"],
        parent_request_id=row["parent_request_id"],
        branch=row["branch"],
        subtask_of=row["subtask_of"],
        cache_break=cache_break_from_json(row["cache_break"]),
    )


def usage_from_row(row: Any) -> Usage:
    """A request row's token columns as its ``Usage`` (the columns are NOT NULL)."""
    return Usage(
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_creation_input_tokens=row["cache_creation_tokens"],
        cache_creation_5m_tokens=row["cache_creation_5m_tokens"],
        cache_creation_1h_tokens=row["cache_creation_1h_tokens"],
        cache_read_input_tokens=row["cache_read_tokens"],
    )


def cache_break_from_json(raw: str | bytes | None) -> CacheBreak | None:
    """The ledger's row of a request as its summary carries it (a JSON array, or NULL)."""
    if raw is None:
        return None
    cause, detail, missed, excess = orjson.loads(raw)
    return CacheBreak(
        CacheCause(cause), detail, int(missed), None if excess is None else int(excess)
    )
