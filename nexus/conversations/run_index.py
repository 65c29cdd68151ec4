"""The link index as linking passes see it: the store's ``LinkIndex`` plus what this linker already
knows, so a batch of turns does not ask the database the same thing for each of them, and the next
batch does not ask again what the last one learnt.

Exact, not a guess. Every transaction that writes the index first counts itself in the store's
link generation (``LinkIndex.generation``; on Postgres that row's lock also makes linkers of
several processes take turns). What a linker learnt (``LinkMemory``) stays true while only its own
passes wrote: its next pass finds the generation one above its last, and keeps what it knew. Any
other writer in between (another process, a rebuild, a prune's clean-up) or a pass that failed
leaves a gap, and the memory starts empty again. It keeps
- each session's first node (``first_session_node`` without ``after``): asked once, kept true as
  nodes are put or deleted. The earliest node of a session overall answers "the earliest before P"
  too: it is that node when it lies before P, and there is none otherwise;
- conversation summaries: read once, written once at the end of a pass (``flush``) however many
  turns of the batch change them;
- the newest position in the index (read once, raised by each ``put_node``; a deletion leaves it an
  upper bound): a request placed after every node has nobody later to re-link (``nothing_after``),
  which is every request of a recorder following live traffic;
- within one pass, which requests had no node when it began: their first ``put_node`` replaces
  nothing.
Sessions and summaries are bounded (the least recently used go first); a miss asks the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nexus.records import ConversationSummary, LinkKey, LinkNode
from nexus.store.base import LinkIndex, Position

_K = TypeVar("_K")
_V = TypeVar("_V")
_UNKNOWN = object()
KEEP = 4096  # sessions and conversations remembered (a few hundred bytes each)


@dataclass
class LinkMemory:
    """What a linker's passes learnt of the index, true as of ``generation``."""

    generation: int | None = None
    first: dict[tuple[str, str], LinkNode | None] = field(default_factory=dict)
    summaries: dict[str, ConversationSummary | None] = field(default_factory=dict)
    newest: Position | None = None  # no node lies after it (None: the index is empty)
    newest_read: bool = False

    def forget(self) -> None:
        self.generation = None
        self.first.clear()
        self.summaries.clear()
        self.newest, self.newest_read = None, False


class RunIndex:
    """A ``LinkIndex`` for one linking pass over ``index`` (call ``flush`` before it commits, and
    ``committed`` after)."""

    def __init__(self, index: LinkIndex, memory: LinkMemory | None = None) -> None:
        self.ix = index
        self.memory = memory if memory is not None else LinkMemory()
        if self.memory.generation is None or index.generation != self.memory.generation + 1:
            self.memory.forget()  # someone else wrote the index since: what we knew may be stale
        self.memory.generation = None  # until this pass commits
        self._first = self.memory.first
        self._summaries = self.memory.summaries
        self._dirty: set[str] = set()
        self._new: set[str] = set()  # requests without a node yet

    def __getattr__(self, name: str) -> Any:  # every other lookup goes to the store
        return getattr(self.ix, name)

    def committed(self) -> None:
        """The pass's transaction committed: what it learnt is true as of its generation."""
        _bound(self._first)
        _bound(self._summaries)
        self.memory.generation = self.ix.generation

    async def get_nodes(self, request_ids: Sequence[str]) -> list[LinkNode]:
        nodes = await self.ix.get_nodes(request_ids)
        self._new.update(set(request_ids) - {n.request_id for n in nodes})
        return nodes

    async def nodes_at(self, positions: Sequence[Position]) -> list[LinkNode]:
        """The nodes of the requests at ``positions``. A request's node lies at its position, so
        a request that starts later than the newest node has none: the store is asked only about
        the others (none at all for a recorder following live traffic). Compared by start time
        alone: request ids may sort differently in the database's collation."""
        newest = await self._newest()
        asked = [rid for ms, rid in positions if newest is not None and ms <= newest[0]]
        self._new.update(rid for ms, rid in positions if newest is None or ms > newest[0])
        return await self.get_nodes(asked) if asked else []

    async def nothing_after(self, position: Position) -> bool:
        """Whether no node of the index lies after ``position``."""
        newest = await self._newest()
        return newest is None or newest <= position

    async def _newest(self) -> Position | None:
        memory = self.memory
        if not memory.newest_read:
            memory.newest = await self.ix.newest_position()
            memory.newest_read = True
        return memory.newest

    async def first_session_node(
        self,
        scope: str,
        session_id: str,
        *,
        before: Position | None = None,
        after: Position | None = None,
    ) -> LinkNode | None:
        if after is not None:
            return await self.ix.first_session_node(scope, session_id, before=before, after=after)
        key = (scope, session_id)
        if key in self._first:
            first = self._first.pop(key)  # and put back last: the most recently used
        else:
            first = await self.ix.first_session_node(scope, session_id)
        self._first[key] = first
        if first is None or before is None or first.position < before:
            return first
        return None

    async def put_node(
        self, node: LinkNode, keys: Sequence[LinkKey], *, is_new: bool = False
    ) -> None:
        is_new = is_new or node.request_id in self._new
        self._new.discard(node.request_id)
        await self.ix.put_node(node, keys, is_new=is_new)
        memory = self.memory
        if memory.newest_read and (memory.newest is None or node.position > memory.newest):
            memory.newest = node.position
        if node.session_id is None:
            return
        key = (node.scope, node.session_id)
        first = self._first.get(key, _UNKNOWN)
        if first is _UNKNOWN:
            return
        assert first is None or isinstance(first, LinkNode)
        if first is not None and first.request_id == node.request_id:
            if node.edge == "background":
                del self._first[key]  # no longer a candidate: ask again
            else:
                self._first[key] = node
        elif node.edge != "background" and (first is None or node.position < first.position):
            self._first[key] = node

    async def delete_nodes(self, request_ids: Sequence[str]) -> None:
        await self.ix.delete_nodes(request_ids)
        self._first.clear()

    async def get_summary(self, conversation_id: str) -> ConversationSummary | None:
        if conversation_id in self._summaries:
            summary = self._summaries.pop(conversation_id)  # and put back last
        else:
            summary = await self.ix.get_summary(conversation_id)
        self._summaries[conversation_id] = summary
        return summary

    async def put_summary(self, summary: ConversationSummary) -> None:
        self._summaries.pop(summary.id, None)
        self._summaries[summary.id] = summary
        self._dirty.add(summary.id)

    async def delete_summary(self, conversation_id: str) -> None:
        self._summaries.pop(conversation_id, None)
        self._summaries[conversation_id] = None
        self._dirty.add(conversation_id)

    async def flush(self) -> None:
        """Write the summaries this pass changed."""
        for conversation_id in sorted(self._dirty):
            summary = self._summaries[conversation_id]
            if summary is None:
                await self.ix.delete_summary(conversation_id)
            else:
                await self.ix.put_summary(summary)
        self._dirty.clear()


def _bound(kept: dict[_K, _V]) -> None:
    """Drop the least recently used entries beyond ``KEEP`` (dicts keep insertion order)."""
    for key in list(kept)[: max(0, len(kept) - KEEP)]:
        del kept[key]
