"""What linking reads of one request, whether it comes from the writer (a ``RequestRecord`` still in
memory) or from the store (a ``StoredRequest`` during rebuild or repair): its list row and its bodies; and the prepared form:
the request with its traffic class and fingerprint, computed once per request. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexus.conversations.classify import classify
from nexus.conversations.normalize import Fingerprint, fingerprint, parse_json
from nexus.conversations.normalize import digest as _digest
from nexus.records import Headers, RequestRecord, RequestSummary, StoredRequest, TrafficClass
from nexus.wire import ParsedRequest, parsed_body

if TYPE_CHECKING:
    from nexus.conversations.memory import FingerprintMemory


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request's list row (who sent it, when, where) and the bodies linking reads."""

    summary: RequestSummary
    request_headers: Headers
    request_body: bytes
    response_message: bytes | None
    parsed: ParsedRequest | None = None  # the recorder's parse of request_body, when it has one

    @property
    def request_id(self) -> str:
        return self.summary.id

    @property
    def started_at_ms(self) -> int:
        return self.summary.started_at_ms

    @property
    def session_id(self) -> str | None:
        return self.summary.session_id

    @property
    def agent_id(self) -> str | None:
        return self.summary.agent_id

    @property
    def position(self) -> tuple[int, str]:
        return (self.summary.started_at_ms, self.summary.id)

    @property
    def scope(self) -> str:
        """Who the request belongs to: host, account and client key. Requests of two scopes never
        share a conversation, so two people who both type "hi" stay apart."""
        s = self.summary
        return scope_of(s.host, s.account_id, s.client_key_id)

    @classmethod
    def from_record(cls, record: RequestRecord, summary: RequestSummary) -> RequestView:
        """A record still in memory, with its list row (``worker.summary_of``)."""
        ex = record.exchange
        return cls(
            summary,
            ex.request_headers,
            ex.request_body,
            record.response_message,
            record.parsed_request,
        )

    @classmethod
    def from_stored(cls, stored: StoredRequest) -> RequestView:
        return cls(
            stored.summary, stored.request_headers, stored.request_body, stored.response_message
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
    traffic_class = classify(view.summary.method, view.summary.path, view.request_headers, body)
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
