"""Records for export tests: single StoredRequests, an in-memory ExportSource, and one conversation
in Claude Code's shapes with a tool loop, a sub-agent, a rewind branch, a compaction and background
calls."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

from nexus.records import (
    ConversationTree,
    Exchange,
    Link,
    Outcome,
    Page,
    RequestFilter,
    RequestRecord,
    RequestSummary,
    StoredRequest,
    TrafficClass,
    Usage,
)

T0 = 1_760_000_000_000
FAKE_KEY = "sk-ant-api03-" + "Q" * 40
FAKE_CLIENT_KEY = "cnp_live_" + "z" * 32


def make_summary(**overrides: Any) -> RequestSummary:
    base: dict[str, Any] = dict(
        id="r" * 32,
        started_at_ms=T0,
        duration_ms=1500,
        ttfb_ms=300,
        method="POST",
        path="/v1/messages",
        host="localhost:3000",
        account_id="acct-1",
        client_key_id="ck-1",
        model="claude-opus-4-8",
        is_streaming=True,
        status=200,
        outcome=Outcome.COMPLETE,
        error=None,
        session_id="sess-1",
        agent_id=None,
        upstream_request_id="req_up_1",
        usage=Usage(10, 20, 100, 100, 0, 1000),
        cost_usd_micros=12_345,
        stop_reason="end_turn",
        user_preview="hi",
        reply_preview="hello",
        message_count=1,
        tool_count=0,
        tool_use_count=0,
        traffic_class=TrafficClass.TURN,
        conversation_id="conv-1",
        parent_request_id=None,
        branch="main",
        subtask_of=None,
    )
    base.update(overrides)
    return RequestSummary(**base)


def make_stored(
    summary: RequestSummary | None = None,
    *,
    request_body: bytes = b'{"model":"claude-opus-4-8","messages":[{"role":"user","content":"hi"}]}',  # noqa: E501
    response_body: bytes = b"event: message_start\ndata: {}\n\n",
    response_message: bytes
    | None = b'{"role":"assistant","content":[{"type":"text","text":"hello"}]}',
    **overrides: Any,
) -> StoredRequest:
    summary = summary or make_summary(**overrides)
    return StoredRequest(
        summary=summary,
        request_headers=(
            ("content-type", "application/json"),
            ("x-api-key", "[redacted]"),
            ("anthropic-version", "2023-06-01"),
        ),
        response_headers=(("content-type", "text/event-stream"), ("request-id", "req_up_1")),
        ratelimit=(("anthropic-ratelimit-unified-5h-utilization", "0.25"),),
        request_body=request_body,
        response_body=response_body,
        response_message=response_message,
        auth_mode="passthrough",
        query="beta=true",
        first_byte_at_ms=None
        if summary.ttfb_ms is None
        else summary.started_at_ms + summary.ttfb_ms,
    )


class MemorySource:
    """An ExportSource over a list of records, paging like the store (newest first, cursor)."""

    def __init__(self, records: list[StoredRequest]) -> None:
        self.records = {r.summary.id: r for r in records}
        self.get_calls = 0

    def _matches(self, s: RequestSummary, flt: RequestFilter) -> bool:
        return (
            (flt.conversation_id is None or s.conversation_id == flt.conversation_id)
            and (flt.since_ms is None or s.started_at_ms >= flt.since_ms)
            and (flt.until_ms is None or s.started_at_ms < flt.until_ms)
            and (flt.host is None or s.host == flt.host)
            and (flt.account_id is None or s.account_id == flt.account_id)
            and (flt.traffic_class is None or s.traffic_class == flt.traffic_class)
        )

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        rows = sorted(
            (r.summary for r in self.records.values() if self._matches(r.summary, flt)),
            key=lambda s: (s.started_at_ms, s.id),
            reverse=True,
        )
        start = int(cursor or 0)
        items = rows[start : start + limit]
        more = start + limit < len(rows)
        return Page(items, str(start + limit) if more else None)

    async def get_request(self, request_id: str) -> StoredRequest | None:
        self.get_calls += 1
        return self.records.get(request_id)

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        return None  # no conversation engine here: exports group the links the records carry

    async def count_requests(self, flt: RequestFilter) -> int:
        return sum(1 for r in self.records.values() if self._matches(r.summary, flt))


def _text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


SYSTEM = [
    _text("x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli;"),
    _text("You are Claude Code, Anthropic's official CLI for Claude."),
    _text("Long system prompt " * 20),
]
REMINDER = _text("<system-reminder>\nAs you answer, use the context below.\n</system-reminder>")


@dataclass
class Thread:
    """Builds one linear thread of requests; ``fork()`` copies it to start a branch."""

    convo: ConversationBuilder
    branch: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    last_id: str | None = None
    cls: TrafficClass = TrafficClass.TURN
    agent_id: str | None = None
    subtask_of: str | None = None
    system: list[dict[str, Any]] = field(default_factory=lambda: list(SYSTEM))

    def fork(self, branch: str, keep: int) -> Thread:
        """A branch from this thread's state after ``keep`` messages, continuing ``last_id``."""
        return dataclasses.replace(self, branch=branch, messages=list(self.messages[:keep]))

    def turn(
        self,
        user: list[dict[str, Any]] | str,
        reply: list[dict[str, Any]],
        *,
        cls: TrafficClass | None = None,
        **summary: Any,
    ) -> StoredRequest:
        self.messages.append({"role": "user", "content": user})
        body = {
            "model": "claude-opus-4-8",
            "max_tokens": 64000,
            "stream": True,
            "system": self.system,
            "messages": self.messages,
            "tools": [{"name": "Bash"}, {"name": "Agent"}],
        }
        message = {
            "id": "msg_x",
            "type": "message",
            "role": "assistant",
            "content": reply,
            "stop_reason": "tool_use"
            if any(b.get("type") == "tool_use" for b in reply)
            else "end_turn",
        }
        texts = [user] if isinstance(user, str) else [b.get("text", "") for b in user]
        summary.setdefault("user_preview", next((t for t in reversed(texts) if t), "")[:240])
        record = self.convo.add(
            orjson.dumps(body),
            orjson.dumps(message),
            traffic_class=cls or self.cls,
            parent_request_id=self.last_id,
            branch=self.branch,
            agent_id=self.agent_id,
            subtask_of=self.subtask_of,
            message_count=len(self.messages),
            **summary,
        )
        self.messages.append({"role": "assistant", "content": reply})
        self.last_id = record.summary.id
        return record


class ConversationBuilder:
    def __init__(self, conversation_id: str = "conv-1") -> None:
        self.conversation_id = conversation_id
        self.records: list[StoredRequest] = []
        self.clock = T0

    def thread(self, branch: str = "main", **kw: Any) -> Thread:
        return Thread(self, branch, **kw)

    def add(self, request_body: bytes, response_message: bytes | None, **kw: Any) -> StoredRequest:
        self.clock += 2_000
        rid = f"{len(self.records):04d}" + "a" * 28
        summary = make_summary(
            id=rid, started_at_ms=self.clock, conversation_id=self.conversation_id, **kw
        )
        record = make_stored(summary, request_body=request_body, response_message=response_message)
        self.records.append(record)
        return record


def scenario() -> tuple[list[StoredRequest], dict[str, str]]:
    """The conversation every format is tested on, and the ids of its landmarks."""
    c = ConversationBuilder()
    main = c.thread()
    ids: dict[str, str] = {}
    r = main.turn(
        [REMINDER, _text("Fix the flaky test, s'il vous plaît — naïve café ☕ 你好")],
        [
            {"type": "thinking", "thinking": "Let me look at the tests.", "signature": "sig=="},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "Bash",
                "input": {"command": "pytest -q"},
            },
        ],
    )
    ids["t1"] = r.summary.id
    c.add(
        b'{"model":"claude-haiku-4-5","max_tokens":32,"messages":[{"role":"user","content":"title"}]}',
        b'{"role":"assistant","content":[{"type":"text","text":"{\\"title\\":\\"Flaky\\"}"}]}',
        traffic_class=TrafficClass.TITLE,
        model="claude-haiku-4-5",
        parent_request_id=None,
        branch=None,
    )
    r = main.turn(
        [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": "1 failed\nkey=" + FAKE_KEY + "\n" + "x" * 5000,
                "is_error": True,
            }
        ],
        [
            _text("I'll ask a sub-agent to investigate."),
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "Agent",
                "input": {
                    "description": "Investigate flake",
                    "subagent_type": "general-purpose",
                    "prompt": "Find why test_x is flaky.",
                },
            },
        ],
    )
    ids["t2"] = r.summary.id
    sub = c.thread("task-1", cls=TrafficClass.SUBAGENT, agent_id="agent-1", subtask_of=r.summary.id)
    sub.system = [_text("You are an agent for Claude Code.")]
    s1 = sub.turn(
        [REMINDER, _text("Find why test_x is flaky.")],
        [{"type": "tool_use", "id": "toolu_s1", "name": "Bash", "input": {"command": "grep"}}],
    )
    ids["s1"] = s1.summary.id
    s2 = sub.turn(
        [{"type": "tool_result", "tool_use_id": "toolu_s1", "content": "sleep(0.1) in test_x"}],
        [_text("It sleeps; use an event. Bearer abcdefghijklmnop1234")],
    )
    ids["s2"] = s2.summary.id
    r = main.turn(
        [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "It sleeps; use an event."}],
        [_text("Fixed: replaced the sleep with an event. <script>alert(1)</script>")],
    )
    ids["t3"] = r.summary.id
    fork_at = len(main.messages)
    r = main.turn("Now run the whole suite", [_text("All 120 tests pass.")])
    ids["t4"] = r.summary.id
    branch = main.fork("branch-2", fork_at)
    branch.last_id = ids["t3"]
    b1 = branch.turn("Actually, revert it and add a retry instead", [_text("Added a retry.")])
    ids["b1"] = b1.summary.id
    b2 = branch.turn("Thanks", [_text("You're welcome.")])
    ids["b2"] = b2.summary.id
    comp = main.turn(
        "Your task is to create a detailed summary of the conversation so far.",
        [_text("<summary>We fixed a flaky test.</summary>")],
        cls=TrafficClass.COMPACTION,
    )
    ids["compaction"] = comp.summary.id
    after = c.thread("compact-1")
    after.last_id = comp.summary.id
    r = after.turn(
        "This session is being continued from a previous conversation that ran out of context. "
        "Summary: We fixed a flaky test.",
        [_text("Continuing: everything is green.")],
    )
    ids["after_compaction"] = r.summary.id
    c.add(
        b'{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"quota"}]}',
        None,
        traffic_class=TrafficClass.QUOTA,
        model="claude-haiku-4-5",
        parent_request_id=None,
        branch=None,
        status=429,
    )
    return c.records, ids


def to_record(stored: StoredRequest) -> RequestRecord:
    """The RequestRecord a store turns back into ``stored`` (for seeding a real store)."""
    s = stored.summary
    exchange = Exchange(
        id=s.id,
        started_at_ms=s.started_at_ms,
        ended_at_ms=s.started_at_ms + s.duration_ms,
        first_byte_at_ms=stored.first_byte_at_ms,
        method=s.method,
        path=s.path,
        query=stored.query,
        host=s.host,
        request_headers=stored.request_headers,
        request_body=stored.request_body,
        status=s.status,
        response_headers=stored.response_headers,
        response_body=stored.response_body,
        outcome=s.outcome,
        error=s.error,
        account_id=s.account_id,
        client_key_id=s.client_key_id,
        auth_mode=stored.auth_mode,
    )
    return RequestRecord(
        exchange=exchange,
        model=s.model,
        is_streaming=s.is_streaming,
        session_id=s.session_id,
        agent_id=s.agent_id,
        response_message=stored.response_message,
        usage=s.usage,
        stop_reason=s.stop_reason,
        ratelimit=stored.ratelimit,
        cost_usd_micros=s.cost_usd_micros,
        user_preview=s.user_preview,
        reply_preview=s.reply_preview,
        message_count=s.message_count,
        tool_count=s.tool_count,
        tool_use_count=s.tool_use_count,
    )


def to_link(stored: StoredRequest) -> Link:
    s = stored.summary
    return Link(
        request_id=s.id,
        traffic_class=s.traffic_class or TrafficClass.OTHER,
        conversation_id=s.conversation_id,
        parent_request_id=s.parent_request_id,
        branch=s.branch,
        subtask_of=s.subtask_of,
        agent_id=s.agent_id,
    )
