"""Reading one conversation out of what holds it (a ``Store``, or the read API's ``NexusClient``): its
requests, oldest first, and the linker's branch records. The one loader the exports and the
analysis use; the API and the TUI read the same tree (``get_conversation``).

The linker's tree when there is one (one read); for links written without the engine's index
(``write_links`` alone), the request list filtered to the conversation, its branches grouped by
``records.branches_of``, the store's own grouping. No bodies are read here, and narrowing to a
branch is ``shape.branch_path``'s.
"""

from __future__ import annotations

from typing import Protocol

from nexus.conversations.shape import start_key
from nexus.errors import NexusError
from nexus.records import (
    ConversationBranch,
    ConversationTree,
    Page,
    RequestFilter,
    RequestSummary,
    branches_of,
)

PAGE_SIZE = 200


class ConversationNotFound(NexusError):
    """No such conversation."""


class ConversationSource(Protocol):
    """The two reads a conversation takes. ``Store`` and ``NexusClient`` both have them."""

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]: ...

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None: ...


async def load_conversation(
    source: ConversationSource, conversation_id: str
) -> tuple[list[RequestSummary], list[ConversationBranch]]:
    """Every request of the conversation, oldest first (background calls included), and its
    branch records. Raises ``ConversationNotFound`` when it has no request."""
    tree = await source.get_conversation(conversation_id)
    if tree is not None and tree.nodes:
        return sorted(tree.nodes, key=start_key), tree.branches
    rows = await listed_requests(source, conversation_id)
    return rows, branches_of([s for s in rows if not s.is_background])


async def listed_requests(
    source: ConversationSource, conversation_id: str, *, page_size: int = PAGE_SIZE
) -> list[RequestSummary]:
    """Every request of the conversation, oldest first, from the request list."""
    flt = RequestFilter(conversation_id=conversation_id)
    rows: list[RequestSummary] = []
    cursor: str | None = None
    while True:
        page = await source.list_requests(flt, cursor, page_size)
        rows.extend(page.items)
        if page.next_cursor is None or not page.items:
            break
        cursor = page.next_cursor
    if not rows:
        raise ConversationNotFound(f"conversation {conversation_id} not found")
    return sorted(rows, key=start_key)
