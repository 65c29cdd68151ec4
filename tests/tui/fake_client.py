"""``FakeClient``: an in-memory stand-in for ``nexus.client.NexusClient`` with the methods the TUI
calls. Filters and cursors behave like the API's (newest first, cursor = offset); the live feed is
an asyncio queue the test feeds; ``go_offline()`` makes every call fail until ``go_online()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from nexus.errors import ApiError, ServerUnreachable
from nexus.filters import row_matches as matches
from nexus.records import (
    ConversationSummary,
    ConversationTree,
    LiveEvent,
    Page,
    RequestFilter,
    RequestSummary,
    StoredRequest,
)
from tests.tui import data


class FakeClient:
    base_url = "http://127.0.0.1:3001"

    def __init__(self, rows: Sequence[RequestSummary] = ()) -> None:
        self.rows = sorted(rows, key=lambda r: (r.started_at_ms, r.id), reverse=True)
        self.trees: dict[str, ConversationTree] = {}
        self.conversations: list[ConversationSummary] = []
        self.usage_body: dict[str, Any] = {"rows": [], "total": {}}
        self.windows_body: dict[str, Any] = {"now_ms": data.T0, "accounts": []}
        self.cache_body: dict[str, Any] = data.cache_doc([])
        self.analysis_error: str | None = None
        self.analyses: dict[tuple[str, str], dict[str, Any]] = {}
        self.analysis_prompts: list[tuple[str | None, str | None]] = []  # (name, text) per start
        self.calls: list[tuple[str, Any]] = []
        self.events_queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue()
        self.event_log: list[LiveEvent] = []
        self.online = asyncio.Event()
        self.online.set()
        self.seq = 0
        self.feed_opened = asyncio.Event()
        self.prompts: dict[str, dict[str, Any]] = {}  # name → prompt JSON (with "template")
        self.prompt_errors: list[dict[str, str]] = []
        self.proxy_port = 3000  # what /health says the proxy listens on
        self.request_body: bytes | None = None  # every request's body, when set

    # -- control ----------------------------------------------------------------------------
    def record(self, row: RequestSummary, kind: str = "request") -> LiveEvent:
        """A request is recorded (or linked): it joins the list and the feed."""
        if kind == "request":
            self.rows.insert(0, row)
        else:
            self.rows = [row if r.id == row.id else r for r in self.rows]
        self.seq += 1
        event = LiveEvent(self.seq, kind, row.id, row.started_at_ms, row)
        self.event_log.append(event)
        self.events_queue.put_nowait(event)
        return event

    def go_offline(self) -> None:
        self.online.clear()
        self.events_queue.put_nowait(None)  # breaks the open stream

    def go_online(self) -> None:
        self.online.set()

    def _check(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if not self.online.is_set():
            raise ServerUnreachable("cannot reach http://127.0.0.1:3001")

    # -- the client's methods -----------------------------------------------------------------
    async def count_requests(self, flt: RequestFilter | None = None) -> int:
        self._check("count_requests", flt)
        return sum(1 for r in self.rows if matches(r, flt or RequestFilter()))

    async def list_requests(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        self._check("list_requests", (flt, cursor, limit))
        flt = flt or RequestFilter()
        rows = [r for r in self.rows if matches(r, flt)]
        start = int(cursor or 0)
        items = rows[start : start + limit]
        more = start + limit < len(rows)
        return Page(items, str(start + limit) if more else None)

    async def get_request(self, request_id: str) -> StoredRequest | None:
        self._check("get_request", request_id)
        rows = [*self.rows, *(row for tree in self.trees.values() for row in tree.nodes)]
        row = next((r for r in rows if r.id == request_id), None)
        if row is None:
            return None
        stored = data.stored(row)
        return (
            stored if self.request_body is None else replace(stored, request_body=self.request_body)
        )

    async def raw_request_body(self, request_id: str) -> bytes:
        stored = await self.get_request(request_id)
        if stored is None:
            raise ApiError(f"no request with id {request_id!r}", status=404)
        return stored.request_body

    async def raw_response_body(self, request_id: str) -> bytes:
        stored = await self.get_request(request_id)
        if stored is None:
            raise ApiError(f"no request with id {request_id!r}", status=404)
        return stored.response_body

    async def list_conversations(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]:
        self._check("list_conversations", (flt, cursor, limit))
        rows = self.conversations
        if flt is not None and flt.text:
            rows = [c for c in rows if flt.text.lower() in c.title.lower()]
        start = int(cursor or 0)
        more = start + limit < len(rows)
        return Page(rows[start : start + limit], str(start + limit) if more else None)

    async def count_conversations(self, flt: RequestFilter | None = None) -> int:
        self._check("count_conversations", flt)
        return len(self.conversations)

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        self._check("get_conversation", conversation_id)
        return self.trees.get(conversation_id)

    async def usage(
        self,
        by: Sequence[str] = (),
        *,
        bucket: str | None = None,
        flt: RequestFilter | None = None,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]:
        self._check("usage", (tuple(by), bucket))
        return self.usage_doc(bucket, by[0] if by else "account")

    def usage_doc(self, bucket: str | None, by: str) -> dict[str, Any]:
        """The document ``usage`` answers (``usage_body`` whatever is asked)."""
        return self.usage_body

    async def windows(
        self, *, account: str | None = None, since_ms: int | None = None, series: bool = True
    ) -> dict[str, Any]:
        self._check("windows", account)
        return self.windows_body

    async def cache(
        self,
        by: str = "cause",
        *,
        flt: RequestFilter | None = None,
        cursor: str | None = None,
        limit: int = 100,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]:
        self._check("cache", (by, flt, limit))
        return self.cache_body

    async def start_analysis(
        self,
        conversation_id: str,
        branch: str = "main",
        *,
        force: bool = False,
        prompt: str | None = None,
        prompt_name: str | None = None,
    ) -> dict[str, Any]:
        self._check("start_analysis", (conversation_id, branch) + (("force",) if force else ()))
        self.analysis_prompts.append((prompt_name, prompt))
        if self.analysis_error:
            raise ApiError(self.analysis_error, status=503)
        job = {
            "id": f"job-{conversation_id[-4:]}",
            "conversation_id": conversation_id,
            "branch": branch,
            "state": "pending",
            "attempts": 0,
            "markdown": None,
            "error": None,
            "prompt_version": "v1" if prompt is None else f"custom-{len(prompt)}",
            "prompt_name": prompt_name or "built-in",
        }
        self.analyses[(conversation_id, branch)] = job
        return job

    async def get_analysis(
        self, conversation_id: str, branch: str = "main", prompt_version: str | None = None
    ) -> dict[str, Any]:
        self._check("get_analysis", (conversation_id, branch))
        try:
            return self.analyses[(conversation_id, branch)]
        except KeyError:
            raise ApiError("no analysis yet", status=404) from None

    def finish_analysis(self, conversation_id: str, branch: str, markdown: str) -> None:
        job = self.analyses[(conversation_id, branch)]
        job.update(state="done", markdown=markdown, started_at_ms=data.T0 + 60_000,
                   finished_at_ms=data.T0 + 75_000, model="gemini-test")  # fmt: skip
        self.seq += 1
        event = LiveEvent(self.seq, "analysis", job["id"], data.T0)
        self.event_log.append(event)
        self.events_queue.put_nowait(event)

    async def health(self) -> dict[str, Any]:
        self._check("health")
        return {"status": "ok", "version": "test", "proxy_port": self.proxy_port}

    async def events(
        self, after: int | None = None, *, include_status: bool = False, max_retry_s: float = 10.0
    ) -> AsyncIterator[LiveEvent]:
        """Like the real client: reconnects by itself, resumes after the last event it yielded,
        and reports ``connected`` / ``disconnected`` when asked."""
        self.calls.append(("events", after))
        cursor = after if after is not None else self.seq
        while True:
            await self.online.wait()
            if include_status:
                yield LiveEvent(cursor, "connected", "", 0)
            self.feed_opened.set()
            for event in [e for e in self.event_log if e.seq > cursor]:
                cursor = event.seq
                yield event
            while True:
                event = await self.events_queue.get()
                if event is None:
                    break
                if event.seq <= cursor:
                    continue
                cursor = event.seq
                yield event
            self.feed_opened.clear()
            if include_status:
                yield LiveEvent(cursor, "disconnected", "", 0)

    async def list_prompts(self) -> dict[str, Any]:
        self._check("list_prompts")
        listed = [{k: v for k, v in p.items() if k != "template"} for p in self.prompts.values()]
        return {"prompts": listed, "errors": self.prompt_errors}

    async def get_prompt(self, name: str) -> dict[str, Any] | None:
        self._check("get_prompt", name)
        return self.prompts.get(name)

    async def render_prompt(self, name: str, arguments: dict[str, str]) -> str:
        """Stands for the server's Jinja2 rendering: ``{{ name }}`` replaced, required checked."""
        self._check("render_prompt", (name, dict(arguments)))
        prompt = self.prompts[name]
        for arg in prompt["arguments"]:
            if arg["required"] and not arguments.get(arg["name"]):
                raise ApiError(f"prompt {name!r} needs the argument {arg['name']!r}", status=400)
        text: str = prompt["template"]
        for key, value in arguments.items():
            text = text.replace("{{ " + key + " }}", value)
        return text

    async def aclose(self) -> None:
        pass


def seeded(n: int = 300) -> FakeClient:
    return FakeClient([data.summary(i) for i in range(n)])


def with_body(n: int, body: bytes) -> FakeClient:
    """``n`` requests that all sent ``body`` (a chat for the request screen to draw)."""
    client = seeded(n)
    client.request_body = body
    return client


def linked(row: RequestSummary, **changes: Any) -> RequestSummary:
    return replace(row, **changes)


class DemoClient(FakeClient):
    """A fake with every screen's data: 300 requests in 15 conversations, a branched conversation,
    usage and windows documents (tests, snapshots, and trying the TUI without a server)."""

    def __init__(self, n: int = 300) -> None:
        super().__init__([data.summary(i) for i in range(n)])
        convs = sorted({r.conversation_id for r in self.rows if r.conversation_id})
        self.conversations = [data.conversation_summary(self.rows[::-1], c) for c in convs]
        branched = data.branched_tree()
        self.trees[branched.summary.id] = branched
        self.conversations.append(branched.summary)
        self.conversations.sort(key=lambda c: c.last_at_ms, reverse=True)
        for conv in convs:
            nodes = sorted(
                (r for r in self.rows if r.conversation_id == conv), key=lambda r: r.started_at_ms
            )
            from nexus.records import ConversationBranch

            branch = ConversationBranch("main", "main", nodes[0].id, None, len(nodes), nodes[-1].id)
            self.trees[conv] = ConversationTree(
                next(c for c in self.conversations if c.id == conv), nodes, [branch], []
            )
        self.cache_body = data.cache_doc(self.rows)
        self.windows_body = data.windows_doc()

    def usage_doc(self, bucket: str | None, by: str) -> dict[str, Any]:
        return data.usage_doc(bucket, by)
