"""Linking as it runs beside the writer: records in, links out, and self-repair.

The writer calls ``ConversationLinker.link_batch(records)`` after ``write_batch`` committed them
(the records are still in memory, so no body is read back). The linker writes the links itself
(``links`` rows and their ``link`` events) in the same locked transaction as its index, so a link
repaired by another process is never overwritten by an older result; callers need not (and should
not) write the returned links again. Each request is decided "as of" its position (``linker.py``); a
request that arrives after requests that started later (concurrent sessions, parallel sub-agents,
several processes, a spool replay) may change what those later ones should have been, so the
affected ones are re-linked from the store in canonical order: their conversation after that
position, and any request that found nothing but was looking for what the late one provides. The
result is the same as ``rebuild.py`` linking everything in canonical order. The whole batch runs in
one ``link_index`` transaction; on Postgres that holds the link generation's row lock, so processes
link one at a time. What a pass learnt of the index stays in memory for the next one while no one
else wrote it in between (``run_index.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from nexus.conversations.linker import Decision, decide, provided_keys
from nexus.conversations.memory import FingerprintMemory
from nexus.conversations.run_index import LinkMemory, RunIndex
from nexus.conversations.summary import add_request, compute
from nexus.conversations.view import Prepared, RequestView, prepare
from nexus.records import Link, LinkNode, RequestRecord, RequestSummary, StoredRequest
from nexus.store.base import ConversationStore, Position

_A = TypeVar("_A")
_R = TypeVar("_R")
_Cpu = Callable[[Callable[[Any], Any], Any], Awaitable[Any]]


class LinkingStore(ConversationStore, Protocol):
    async def get_request(self, request_id: str) -> StoredRequest | None: ...


class ConversationLinker:
    """Links requests into conversations; safe to share by every writer of one process."""

    def __init__(self, store: LinkingStore, *, in_thread: bool = True) -> None:
        self.store = store
        # Fingerprinting is CPU work: off the event loop, unless nobody waits on it (the recorder
        # child), where the hop to a worker thread would cost more than it saves.
        self.in_thread = in_thread
        self.memory = FingerprintMemory()  # the next turn's shared history is not hashed again
        self.known = LinkMemory()  # what the last passes learnt of the index (run_index.py)

    def _prepare_all(self, views: Sequence[RequestView]) -> list[Prepared]:
        return [prepare(v, self.memory) for v in views]

    async def _cpu(self, fn: Callable[[_A], _R], arg: _A) -> _R:
        return await asyncio.to_thread(fn, arg) if self.in_thread else fn(arg)

    async def link_batch(self, records: Sequence[RequestRecord]) -> list[Link]:
        """Link freshly written records; returns the links written (theirs and any repaired)."""
        if not records:
            return []
        views = [RequestView.from_record(r, summary_of(r)) for r in records]
        prepared = await self._cpu(self._prepare_all, views)
        return await self._link(prepared)

    async def link_stored(self, stored: Sequence[StoredRequest]) -> list[Link]:
        """Link requests read back from the store (rebuild, catch-up)."""
        if not stored:
            return []
        views = [RequestView.from_stored(s) for s in stored]
        prepared = await self._cpu(self._prepare_all, views)
        return await self._link(prepared)

    async def catch_up(self, limit: int = 500) -> list[Link]:
        """Link stored requests that have no link yet (linking was interrupted by a crash or an
        outage) and write links the ``links`` table lacks. Returns what it wrote: call until []."""
        ids = await self.store.unlinked_request_ids(limit)
        stored = [s for s in [await self.store.get_request(i) for i in ids] if s is not None]
        links = await self.link_stored(stored)
        missing = await self.store.unpublished_links(limit)
        if missing:
            async with self.store.link_index() as index:
                links += await index.publish(missing)
        return links

    async def forget_pruned(self, batch: int = 1000) -> int:
        """After ``Store.prune``: drop the nodes and keys of deleted requests and recount (or drop)
        their conversations. Returns how many nodes went."""
        total = 0
        while True:
            async with self.store.link_index() as index:
                gone = await index.missing_request_nodes(batch)
                if not gone:
                    return total
                await index.delete_nodes([n.request_id for n in gone])
                touched = sorted({n.conversation_id for n in gone if n.conversation_id})
                for conversation_id in touched:
                    summary = compute(await index.summary_rows(conversation_id))
                    if summary is None:
                        await index.delete_summary(conversation_id)
                    else:
                        await index.put_summary(summary)
            total += len(gone)

    async def _link(self, items: list[Prepared]) -> list[Link]:
        try:
            async with self.store.link_index() as index:
                known = RunIndex(index, self.known)
                run = _Run(known, self.store, self._cpu)
                await run.link_all(items)
                await known.flush()
                links = await index.publish(list(run.links.values()))
        except BaseException:
            self.known.forget()  # rolled back: what the pass learnt never happened
            raise
        known.committed()
        return links


class _Run:
    """One linking pass inside one index transaction."""

    def __init__(self, index: RunIndex, store: LinkingStore, cpu: _Cpu) -> None:
        self.ix = index
        self.store = store
        self.cpu = cpu
        self.links: dict[str, Link] = {}
        self.touched: set[str | None] = set()  # conversations whose summary must be recounted
        self.sessions: set[tuple[str, str]] = set()  # sessions whose background calls to re-file
        self.expanded: dict[str, Position] = {}
        self.queue: dict[str, LinkNode] = {}  # linked nodes to re-link, by id

    async def link_all(self, items: list[Prepared]) -> None:
        items.sort(key=lambda p: p.view.position)
        old = {n.request_id: n for n in await self.ix.nodes_at([p.view.position for p in items])}
        for prepared in items:
            await self._drain(before=prepared.view.position)
            self.queue.pop(prepared.view.request_id, None)
            await self._link_new(prepared, old.get(prepared.view.request_id))
        await self._drain(before=None)
        await self._finish()

    async def _link_new(self, prepared: Prepared, old: LinkNode | None) -> None:
        decision = await decide(prepared, self.ix)
        node = decision.node
        await self.ix.put_node(node, decision.keys)
        self.links[node.request_id] = node.link()
        if old is None and node.conversation_id:
            summary = await self.ix.get_summary(node.conversation_id)
            await self.ix.put_summary(add_request(summary, node, prepared.view.summary))
        elif old is not None:
            self.touched.update((old.conversation_id, node.conversation_id))
        await self._after(decision)

    async def _relink(self, old: LinkNode) -> None:
        stored = await self.store.get_request(old.request_id)
        if stored is None:  # pruned meanwhile
            await self.ix.delete_nodes([old.request_id])
            self.touched.add(old.conversation_id)
            return
        prepared = await self.cpu(prepare, RequestView.from_stored(stored))
        decision = await decide(prepared, self.ix)
        node = decision.node
        await self.ix.put_node(node, decision.keys)
        if node.link() != old.link():
            self.links[node.request_id] = node.link()
        self.touched.update((old.conversation_id, node.conversation_id))
        if node.session_id:
            self.sessions.add((node.scope, node.session_id))
        await self._after(decision)

    async def _after(self, decision: Decision) -> None:
        node = decision.node
        if decision.first_in_session and node.session_id:
            self.sessions.add((node.scope, node.session_id))
        if node.edge == "background" or node.conversation_id is None:
            return
        pos = node.position
        if await self.ix.nothing_after(pos):  # the newest request: nobody later to re-link
            return
        last = await self.ix.last_position(node.conversation_id, exclude=node.request_id)
        if last is not None and last > pos:
            await self._expand(node.conversation_id, pos)
        for kind, keys in provided_keys(decision).items():
            for hit in await self.ix.find_keys(node.scope, (kind,), keys, after=pos):
                await self._expand(hit.node.conversation_id, pos)
        if decision.first_in_session and node.session_id:
            later = await self.ix.first_session_node(node.scope, node.session_id, after=pos)
            if later is not None:
                await self._expand(later.conversation_id, pos)

    async def _expand(self, conversation_id: str | None, after: Position) -> None:
        """Queue the conversation's nodes after ``after`` for re-linking."""
        if conversation_id is None:
            return
        done = self.expanded.get(conversation_id)
        if done is not None and done <= after:
            return
        self.expanded[conversation_id] = after
        for node in await self.ix.nodes_after(conversation_id, after):
            self.queue.setdefault(node.request_id, node)

    async def _drain(self, before: Position | None) -> None:
        while self.queue:
            request_id = min(self.queue, key=lambda i: self.queue[i].position)
            if before is not None and self.queue[request_id].position >= before:
                return
            await self._relink(self.queue.pop(request_id))

    async def _finish(self) -> None:
        for scope, session_id in sorted(self.sessions):
            first = await self.ix.first_session_node(scope, session_id)
            conversation_id = first.conversation_id if first else None
            for node in await self.ix.session_background(scope, session_id):
                if node.conversation_id != conversation_id:
                    moved = replace(node, conversation_id=conversation_id)
                    await self.ix.put_node(moved, ())
                    self.links[node.request_id] = moved.link()
                    self.touched.update((node.conversation_id, conversation_id))
        for conversation_id in sorted(c for c in self.touched if c):
            summary = compute(await self.ix.summary_rows(conversation_id))
            if summary is None:
                await self.ix.delete_summary(conversation_id)
            else:
                await self.ix.put_summary(summary)


def summary_of(record: RequestRecord) -> RequestSummary:
    """The list row of a record still in memory (what the summary counts read)."""
    ex = record.exchange
    return RequestSummary(
        id=ex.id,
        started_at_ms=ex.started_at_ms,
        duration_ms=ex.duration_ms,
        ttfb_ms=ex.ttfb_ms,
        method=ex.method,
        path=ex.path,
        host=ex.host,
        account_id=ex.account_id,
        client_key_id=ex.client_key_id,
        model=record.model,
        is_streaming=record.is_streaming,
        status=ex.status,
        outcome=ex.outcome,
        error=ex.error,
        session_id=record.session_id,
        agent_id=record.agent_id,
        upstream_request_id=ex.response_header("request-id"),
        usage=record.usage,
        cost_usd_micros=record.cost_usd_micros,
        stop_reason=record.stop_reason,
        user_preview=record.user_preview,
        reply_preview=record.reply_preview,
        message_count=record.message_count,
        tool_count=record.tool_count,
        tool_use_count=record.tool_use_count,
    )
