"""The link index as one linking pass sees it: the store's ``LinkIndex`` plus what the pass already
knows, so a batch of turns does not ask the database the same thing for each of them.

Exact, not a guess: it lives for one ``link_index`` transaction, during which nothing but this pass
writes the index (on Postgres the transaction holds the linkers' advisory lock). It keeps
- each session's first node (``first_session_node`` without ``after``): asked once per pass, kept
  true as nodes are put or deleted. The earliest node of a session overall answers "the earliest
  before P" too: it is that node when it lies before P, and there is none otherwise;
- conversation summaries: read once, written once at the end (``flush``) however many turns of
  the batch change them;
- which requests had no node when the pass began: their first ``put_node`` replaces nothing;
- the newest position in the index (read once, raised by each ``put_node``; a deletion leaves it an
  upper bound): a request placed after every node has nobody later to re-link (``nothing_after``),
  which is every request of a recorder following live traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nexus.records import ConversationSummary, LinkKey, LinkNode
from nexus.store.base import LinkIndex, Position

_UNKNOWN = object()


class RunIndex:
    """A ``LinkIndex`` for one linking pass over ``index`` (call ``flush`` before it commits)."""

    def __init__(self, index: LinkIndex) -> None:
        self.ix = index
        self._first: dict[tuple[str, str], LinkNode | None] = {}
        self._summaries: dict[str, ConversationSummary | None] = {}
        self._dirty: set[str] = set()
        self._new: set[str] = set()  # requests without a node yet
        self._newest: Position | None = None  # no node lies after it (None: the index is empty)
        self._newest_read = False

    def __getattr__(self, name: str) -> Any:  # every other lookup goes to the store
        return getattr(self.ix, name)

    async def get_nodes(self, request_ids: Sequence[str]) -> list[LinkNode]:
        nodes = await self.ix.get_nodes(request_ids)
        self._new.update(set(request_ids) - {n.request_id for n in nodes})
        return nodes

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
        if key not in self._first:
            self._first[key] = await self.ix.first_session_node(scope, session_id)
        first = self._first[key]
        if first is None or before is None or first.position < before:
            return first
        return None

    async def nothing_after(self, position: Position) -> bool:
        """Whether no node of the index lies after ``position``."""
        if not self._newest_read:
            self._newest = await self.ix.newest_position()
            self._newest_read = True
        return self._newest is None or self._newest <= position

    async def put_node(
        self, node: LinkNode, keys: Sequence[LinkKey], *, is_new: bool = False
    ) -> None:
        is_new = is_new or node.request_id in self._new
        self._new.discard(node.request_id)
        await self.ix.put_node(node, keys, is_new=is_new)
        if self._newest_read and (self._newest is None or node.position > self._newest):
            self._newest = node.position
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
        if conversation_id not in self._summaries:
            self._summaries[conversation_id] = await self.ix.get_summary(conversation_id)
        return self._summaries[conversation_id]

    async def put_summary(self, summary: ConversationSummary) -> None:
        self._summaries[summary.id] = summary
        self._dirty.add(summary.id)

    async def delete_summary(self, conversation_id: str) -> None:
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
