"""What linking reads of one request, whether it comes from the writer (a ``RequestRecord`` still in
memory) or from the store (a ``StoredRequest`` during rebuild or repair), and the prepared form:
the request with its traffic class and fingerprint, computed once per request. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexus.conversations.classify import classify
from nexus.conversations.normalize import Fingerprint, fingerprint, parse_json
from nexus.conversations.normalize import digest as _digest
from nexus.records import Headers, RequestRecord, StoredRequest, TrafficClass
from nexus.wire import ParsedRequest, parsed_body

if TYPE_CHECKING:
    from nexus.conversations.memory import FingerprintMemory


@dataclass(frozen=True, slots=True)
class RequestView:
    request_id: str
    started_at_ms: int
    method: str
    path: str
    host: str
    account_id: str | None
    client_key_id: str | None
    session_id: str | None
    agent_id: str | None
    request_headers: Headers
    request_body: bytes
    response_message: bytes | None
    parsed: ParsedRequest | None = None  # the recorder's parse of request_body, when it has one

    @property
    def position(self) -> tuple[int, str]:
        return (self.started_at_ms, self.request_id)

    @property
    def scope(self) -> str:
        """Who the request belongs to: host, account and client key. Requests of two scopes never
        share a conversation, so two people who both type "hi" stay apart."""
        return scope_of(self.host, self.account_id, self.client_key_id)

    @classmethod
    def from_record(cls, record: RequestRecord) -> RequestView:
        ex = record.exchange
        return cls(
            request_id=ex.id,
            started_at_ms=ex.started_at_ms,
            method=ex.method,
            path=ex.path,
            host=ex.host,
            account_id=ex.account_id,
            client_key_id=ex.client_key_id,
            session_id=record.session_id,
            agent_id=record.agent_id,
            request_headers=ex.request_headers,
            request_body=ex.request_body,
            response_message=record.response_message,
            parsed=record.parsed_request,
        )

    @classmethod
    def from_stored(cls, stored: StoredRequest) -> RequestView:
        s = stored.summary
        return cls(
            request_id=s.id,
            started_at_ms=s.started_at_ms,
            method=s.method,
            path=s.path,
            host=s.host,
            account_id=s.account_id,
            client_key_id=s.client_key_id,
            session_id=s.session_id,
            agent_id=s.agent_id,
            request_headers=stored.request_headers,
            request_body=stored.request_body,
            response_message=stored.response_message,
        )


def scope_of(host: str, account_id: str | None, client_key_id: str | None) -> str:
    return _digest(f"{host}\x1f{account_id or ''}\x1f{client_key_id or ''}".encode())[:20]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready for the linker: its class and, for conversational calls, its fingerprint."""

    view: RequestView
    traffic_class: TrafficClass
    fingerprint: Fingerprint | None  # None for background calls

    @property
    def is_background(self) -> bool:
        return self.fingerprint is None


def prepare(view: RequestView, memory: FingerprintMemory | None = None) -> Prepared:
    """Read the body's parse (the recorder's, else parse it here), classify, and fingerprint conversational calls. CPU work: callers on the
    event loop run batches of this in a thread."""
    parsed = parsed_body(view.request_body, view.parsed)
    body = parsed.value
    traffic_class = classify(view.method, view.path, view.request_headers, body)
    if traffic_class.is_background or body is None:
        return Prepared(view, traffic_class, None)
    response = parse_json(view.response_message)
    fp = fingerprint(
        body,
        response,
        is_compaction=traffic_class is TrafficClass.COMPACTION,
        memory=memory,
        message_bytes=parsed.message_bytes or None,
    )
    if not fp.prefix_keys:
        return Prepared(view, TrafficClass.OTHER, None)
    return Prepared(view, traffic_class, fp)
