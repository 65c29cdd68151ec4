"""Conversations, one class for both dialects: the linker's index (one write transaction,
``link_index.SqlLinkIndex``; counted, and serialised across processes, by ``conv_link_pass``) and what
lists and trees read, with rebuild streaming.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from nexus.filters import conversation_where
from nexus.records import (
    ConversationSubtask,
    ConversationSummary,
    ConversationTree,
    Link,
    LinkNode,
    Page,
    RequestFilter,
    branches_of,
)
from nexus.store.base import Position
from nexus.store.connector import Connector, Tx
from nexus.store.link_index import (
    AFTER_NONE,
    SqlLinkIndex,
    conversation_from_row,
    link_from_row,
    node_from_row,
)
from nexus.store.requests import Requests
from nexus.store.rows import by_name, summary_from_row

# A text filter that matches fewer requests than this reads their conversations; from it on, it
# walks conversations newest first until the page is full, which costs nearly the same however few
# match (98 500 requests, SQLite, quiet: ~100 matches read 6 ms, walked 34 ms; 90 000 matches read
# 240 ms, walked 66 ms). Reading costs ~2.7 us a match; counting to the cap costs Postgres ~0.6 ms
# at 1 000 but 3-10 ms at 5 000 (a common word is counted by a scan).
FEW_MATCHES = 1_000


@dataclass(frozen=True, slots=True)
class Conversations:
    db: Connector
    q: Mapping[str, str]
    requests: Requests

    @contextlib.asynccontextmanager
    async def link_index(self) -> AsyncIterator[SqlLinkIndex]:
        async with self.db.transaction() as tx:
            generation = await self._count_pass(tx)
            index = SqlLinkIndex(tx, self.q, self.db.sql_dialect, self.requests, generation)
            yield index
            await index.flush()  # what waits for the next statement goes in before the commit

    async def _count_pass(self, tx: Tx) -> int:
        """Count this write of the index (and, on Postgres, wait for the other linkers' turn)."""
        row = await tx.fetchone(self.q["conv_link_pass"], {})
        assert row is not None  # RETURNING always gives the row
        return int(row["generation"])

    async def list_conversations(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]:
        where, params = await self._where(flt, cursor)
        rows = await self.db.fetchall(
            self.q["conv_list"].format(where=where), {**params, "limit": limit + 1}
        )
        items = [conversation_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit and items
        return Page(items, f"{items[-1].last_at_ms}:{items[-1].id}" if more else None)

    async def count_conversations(self, flt: RequestFilter) -> int:
        where, params = await self._where(flt, None)
        row = await self.db.fetchone(self.q["conv_count"].format(where=where), params)
        return int(row["n"]) if row else 0

    async def _where(self, flt: RequestFilter, cursor: str | None) -> tuple[str, dict[str, Any]]:
        few = False
        if flt.text:
            probe = {"text": flt.text, "cap": FEW_MATCHES}
            row = await self.db.fetchone(self.q["search_match_count"], probe)
            few = row is not None and int(row["n"]) < FEW_MATCHES
        return conversation_where(
            flt,
            self.db.sql_dialect,
            search_match=self.q["search_match"],
            cursor=cursor,
            few_matches=few,
        )

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        row = await self.db.fetchone(self.q["conv_summary_get"], {"id": conversation_id})
        if row is None:
            return None
        rows = await self.db.fetchall(
            self.q["conv_tree_rows"], {"conversation_id": conversation_id}
        )
        # one dict per row: the node, then the summary with the node's link, read from it
        pairs = [(node_from_row(r), summary_from_row(_linked(r))) for r in map(by_name, rows)]
        nodes = [summary for _, summary in pairs]
        providers = sorted({n.subtask_of for n, _ in pairs if n.edge == "task" and n.subtask_of})
        infos: dict[tuple[str, int], dict[str, Any]] = {}
        if providers:
            ids = self.db.sql_dialect.array(providers)
            for info in await self.db.fetchall(self.q["conv_task_infos"], {"ids": ids}):
                raw = info["info"]
                infos[(info["request_id"], info["ordinal"])] = orjson.loads(raw) if raw else {}
        conversational = [n for n, _ in pairs if n.edge != "background"]
        starts = {n.request_id for n in conversational if n.branch_start}
        shown = [s for (n, _), s in zip(pairs, nodes, strict=True) if n.edge != "background"]
        return ConversationTree(
            summary=conversation_from_row(row),
            nodes=nodes,
            branches=branches_of(shown, starts),
            subtasks=_subtasks(conversational, infos),
        )

    async def linking_positions(self, after: Position | None, limit: int = 500) -> list[Position]:
        a = after or AFTER_NONE
        rows = await self.db.fetchall(
            self.q["conv_positions"], {"after_ms": a[0], "after_id": a[1], "limit": limit}
        )
        return [(r["started_at_ms"], r["id"]) for r in rows]

    async def unlinked_request_ids(self, limit: int = 500) -> list[str]:
        return [r["id"] for r in await self.db.fetchall(self.q["conv_unlinked"], {"limit": limit})]

    async def unpublished_links(self, limit: int = 500) -> list[Link]:
        rows = await self.db.fetchall(self.q["conv_unpublished"], {"limit": limit})
        return [node_from_row(r).link() for r in rows]

    async def stored_links(self, request_ids: Sequence[str]) -> dict[str, Link]:
        if not request_ids:
            return {}
        ids = self.db.sql_dialect.array(request_ids)
        rows = await self.db.fetchall(self.q["conv_links_get"], {"ids": ids})
        return {r["request_id"]: link_from_row(r) for r in rows}

    async def clear_link_index(self) -> None:
        async with self.db.transaction() as tx:
            await self._count_pass(tx)
            for name in ("conv_clear_keys", "conv_clear_nodes", "conv_clear_summaries"):
                await tx.execute(self.q[name], {})


# The request's row takes the link the engine holds now (the links table may lag a moment).
_NODE_LINK = tuple((name, "node_" + name) for name in
                   ("traffic_class", "conversation_id", "parent_request_id", "branch", "subtask_of"))  # fmt: skip


def _linked(row: dict[str, Any]) -> dict[str, Any]:
    for name, node_name in _NODE_LINK:
        row[name] = row[node_name]
    return row


def _subtasks(
    nodes: list[LinkNode], infos: dict[tuple[str, int], dict[str, Any]]
) -> list[ConversationSubtask]:
    counts: dict[str, int] = {}
    for node in nodes:
        if node.branch:
            counts[node.branch] = counts.get(node.branch, 0) + 1
    out = []
    for node in nodes:
        if node.edge != "task" or node.subtask_of is None:
            continue
        info = infos.get((node.subtask_of, node.task_ordinal or 0), {})
        out.append(
            ConversationSubtask(
                request_id=node.request_id,
                subtask_of=node.subtask_of,
                branch=node.branch or "",
                agent_id=node.agent_id,
                description=str(info.get("description", "")),
                subagent_type=str(info.get("subagent_type", "")),
                request_count=counts.get(node.branch or "", 0),
            )
        )
    return out
