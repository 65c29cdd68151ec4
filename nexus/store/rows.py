"""Turning records into rows and rows into records, for both dialects.

The sole owner of the summary column order (``summary_columns`` in the query files) and of how a
record is prepared for writing: body decomposition, compression and JSON encoding of header lists.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard

from nexus.records import (
    CacheBreak,
    CacheCause,
    Headers,
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


SUMMARY_WIDTH = 36  # number of columns in summary_columns


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

    blobs: list[tuple[Any, ...]]
    nodes: list[tuple[Any, ...]]
    requests: dict[str, tuple[Any, ...]]
    request_blobs: list[tuple[str, bytes]]
    blob_hashes: list[bytes]  # and node ids: what ``known_blobs`` learns once the batch is stored


def prepare_batch(
    records: Sequence[RequestRecord], known_blobs: set[bytes], memory: CutMemory | None = None
) -> PreparedBatch:
    """Decompose and compress everything a batch writes. ``known_blobs`` holds the hashes of blobs
    and the ids of message nodes already stored (a cache: a miss only costs a redundant insert that
    the database ignores); ``memory``, what recent bodies were cut into."""
    blobs: dict[bytes, tuple[Any, ...]] = {}
    nodes: dict[bytes, tuple[Any, ...]] = {}
    requests: dict[str, tuple[Any, ...]] = {}
    request_blobs: list[tuple[str, bytes]] = []
    written = now_ms()

    def add_blob(blob: Blob) -> None:
        if blob.hash not in known_blobs and blob.hash not in blobs:
            codec, data = compress(blob.data)
            blobs[blob.hash] = (blob.hash, blob.kind, len(blob.data), codec, data)

    for record in records:
        ex = record.exchange
        parts = decompose(ex.request_body, record.parsed_request, memory)
        for blob in parts.blobs:
            add_blob(blob)
        for node in parts.nodes:
            if node.id not in known_blobs:
                nodes.setdefault(node.id, (node.id, node.parent_id, node.blob_hash, node.sep))
        tail = next((c.ref for c in parts.cuts if c.kind == "chain"), None)
        direct = [c.ref for c in parts.cuts if c.kind == "blob"]
        headers = headers_json(ex.request_headers)
        header_blob = Blob(content_hash(headers), "headers", headers)
        add_blob(header_blob)
        direct.append(header_blob.hash)
        request_blobs.extend((ex.id, h) for h in dict.fromkeys(direct))
        codec, response = compress(ex.response_body)
        u = record.usage
        requests[ex.id] = (
            ex.id, ex.started_at_ms, ex.ended_at_ms, ex.first_byte_at_ms, ex.duration_ms,
            ex.ttfb_ms, ex.method, ex.path, ex.query, ex.host, ex.account_id, ex.client_key_id,
            ex.auth_mode, record.model, record.is_streaming, ex.status, str(ex.outcome), ex.error,
            record.session_id, record.agent_id, record.parent_agent_id,
            ex.response_header("request-id"), u.input_tokens, u.output_tokens,
            u.cache_creation_input_tokens, u.cache_creation_5m_tokens, u.cache_creation_1h_tokens,
            u.cache_read_input_tokens, record.cost_usd_micros, record.stop_reason,
            record.user_preview, record.reply_preview, record.message_count, record.tool_count,
            record.tool_use_count, header_blob.hash, headers_json(ex.response_headers),
            headers_json(record.ratelimit), parts.skeleton, tail, parts.cuts_json(),
            len(ex.request_body), response, codec, len(ex.response_body),
            pack_json(record.response_message), written,
        )  # fmt: skip
    return PreparedBatch(
        list(blobs.values()), list(nodes.values()), requests, request_blobs, [*blobs, *nodes]
    )


def summary_from_row(row: Sequence[Any]) -> RequestSummary:
    """A RequestSummary from the first SUMMARY_WIDTH columns of a row."""
    (
        id_, started, duration, ttfb, method, path, host, account, client_key, model, streaming,
        status, outcome, error, session, agent, upstream_id, inp, out, cc, cc5, cc1, cr, cost,
        stop, user_preview, reply_preview, n_msgs, n_tools, n_tool_uses, cls, conv, parent,
        branch, subtask, cache_break,
    ) = row[:SUMMARY_WIDTH]  # fmt: skip
    return RequestSummary(
        id=id_,
        started_at_ms=started,
        duration_ms=duration,
        ttfb_ms=ttfb,
        method=method,
        path=path,
        host=host,
        account_id=account,
        client_key_id=client_key,
        model=model,
        is_streaming=bool(streaming),
        status=status,
        outcome=Outcome(outcome),
        error=error,
        session_id=session,
        agent_id=agent,
        upstream_request_id=upstream_id,
        usage=Usage(inp, out, cc, cc5, cc1, cr),
        cost_usd_micros=cost,
        stop_reason=stop,
        user_preview=user_preview,
        reply_preview=reply_preview,
        message_count=n_msgs,
        tool_count=n_tools,
        tool_use_count=n_tool_uses,
        traffic_class=TrafficClass(cls) if cls else None,
        conversation_id=conv,
        parent_request_id=parent,
        branch=branch,
        subtask_of=subtask,
        cache_break=cache_break_from_json(cache_break),
    )


def cache_break_from_json(raw: str | bytes | None) -> CacheBreak | None:
    """The ledger's row of a request as its summary carries it (a JSON array, or NULL)."""
    if raw is None:
        return None
    cause, detail, missed, excess = orjson.loads(raw)
    return CacheBreak(
        CacheCause(cause), detail, int(missed), None if excess is None else int(excess)
    )
