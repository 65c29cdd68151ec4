"""Linking traffic the way the writer does, rebuilding, and reading trees back by label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nexus.conversations.rebuild import rebuild_conversations
from nexus.conversations.worker import ConversationLinker
from nexus.records import RequestFilter, RequestRecord
from tests.conversations.traffic import Traffic

Row = tuple[str | None, str | None, str | None, str | None, str]  # parent, branch, conv, sub, class


async def link_live(store: Any, records: Sequence[RequestRecord], batch: int = 1) -> None:
    """Write and link records batch by batch, in the order given (the order they arrive)."""
    linker = ConversationLinker(store)
    for start in range(0, len(records), batch):
        chunk = list(records[start : start + batch])
        await store.write_batch(chunk)
        await linker.link_batch(chunk)  # writes its links itself


IndexRow = tuple[str, int | None, str | None, int | None, int | None]


async def indexed_links(store: Any, records: list[RequestRecord]) -> list[IndexRow]:
    """Write all the records, then link them one at a time in order (as the writer would under
    light load); per record (class, parent, branch, conversation, subtask_of), the ids as indexes
    into ``records``."""
    await store.write_batch(records)
    linker = ConversationLinker(store)
    for record in records:
        await linker.link_batch([record])
    ids = [r.id for r in records]
    links = await store.stored_links(ids)

    def index(request_id: str | None) -> int | None:
        return None if request_id is None else ids.index(request_id)

    return [
        (
            str(lk.traffic_class),
            index(lk.parent_request_id),
            lk.branch,
            index(lk.conversation_id),
            index(lk.subtask_of),
        )
        for lk in (links[i] for i in ids)
    ]


async def rebuild(store: Any) -> None:
    await rebuild_conversations(store, batch_size=7)


async def tree(store: Any, traffic: Traffic) -> dict[str, Row]:
    """label → (parent, branch, conversation, subtask_of, class), all as labels."""
    links = await store.stored_links(list(traffic.labels.values()))
    out = {}
    for label, request_id in traffic.labels.items():
        link = links[request_id]
        out[label] = (
            traffic.label_of(link.parent_request_id),
            link.branch,
            traffic.label_of(link.conversation_id),
            traffic.label_of(link.subtask_of),
            str(link.traffic_class),
        )
    return out


async def snapshot(store: Any) -> tuple[dict[str, Any], list[Any]]:
    """Every link and every conversation summary (to compare live linking with a rebuild)."""
    positions = await store.linking_positions(None, 100_000)
    links = await store.stored_links([i for _, i in positions])
    page = await store.list_conversations(RequestFilter(), limit=10_000)
    return links, sorted(page.items, key=lambda s: s.id)
