"""The conversation engine's index inside one write transaction (``LinkIndex``), for both dialects,
and how its rows are read: link nodes (``{node}``, each column named ``node_<column>``) and
conversation summaries (``{conversation_columns}``).

Every lookup with ``before`` sees only nodes before that position, so a request's link depends only
on requests before it. Positions compare as ``(started_at_ms, request_id)`` row values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from nexus.records import (
    ConversationSummary,
    KeyHit,
    Link,
    LinkKey,
    LinkNode,
    RequestSummary,
    TrafficClass,
    now_ms,
)
from nexus.store.base import Position
from nexus.store.connector import Row, Tx
from nexus.store.dialect import Dialect
from nexus.store.queries.tables import CONVERSATIONS, LINK_KEYS, LINK_NODES, LINKS
from nexus.store.rows import by_name, link_row, summary_from_row

if TYPE_CHECKING:
    from nexus.store.requests import Requests

BEFORE_ALL: Position = (2**62, "")
AFTER_NONE: Position = (-1, "")
_SINCE_ALL = -(2**62)


def node_from_row(row: Row) -> LinkNode:
    row = by_name(row)
    return LinkNode(
        request_id=row["node_request_id"],
        scope=row["node_scope"],
        started_at_ms=row["node_started_at_ms"],
        traffic_class=TrafficClass(row["node_traffic_class"]),
        edge=row["node_edge"],
        session_id=row["node_session_id"],
        agent_id=row["node_agent_id"],
        conversation_id=row["node_conversation_id"],
        parent_request_id=row["node_parent_request_id"],
        branch=row["node_branch"],
        subtask_of=row["node_subtask_of"],
        task_ordinal=row["node_task_ordinal"],
        branch_start=bool(row["node_branch_start"]),
        task_count=row["node_task_count"],
    )


def link_from_row(row: Row) -> Link:
    return Link(
        row["request_id"],
        TrafficClass(row["traffic_class"]),
        row["conversation_id"],
        row["parent_request_id"],
        row["branch"],
        row["subtask_of"],
        row["agent_id"],
    )


def summary_params(s: ConversationSummary) -> dict[str, Any]:
    return {
        "id": s.id, "host": s.host, "account_id": s.account_id, "client_key_id": s.client_key_id,
        "session_id": s.session_id, "started_at_ms": s.started_at_ms, "last_at_ms": s.last_at_ms,
        "last_request_id": s.last_request_id, "request_count": s.request_count,
        "class_counts": orjson.dumps(s.class_counts).decode(), "branch_count": s.branch_count,
        "subtask_count": s.subtask_count, "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens, "cache_creation_tokens": s.cache_creation_tokens,
        "cache_read_tokens": s.cache_read_tokens, "cost_usd_micros": s.cost_usd_micros,
        "models": ",".join(s.models), "latest_context_tokens": s.latest_context_tokens,
        "latest_turn_id": s.latest_turn_id, "latest_turn_at_ms": s.latest_turn_at_ms,
        "title": s.title, "last_user_preview": s.last_user_preview,
    }  # fmt: skip


def conversation_from_row(row: Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        started_at_ms=row["started_at_ms"],
        last_at_ms=row["last_at_ms"],
        last_request_id=row["last_request_id"],
        host=row["host"],
        account_id=row["account_id"],
        client_key_id=row["client_key_id"],
        session_id=row["session_id"],
        request_count=row["request_count"],
        class_counts=orjson.loads(row["class_counts"]),
        branch_count=row["branch_count"],
        subtask_count=row["subtask_count"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_creation_tokens=row["cache_creation_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        cost_usd_micros=row["cost_usd_micros"],
        models=tuple(m for m in row["models"].split(",") if m),
        latest_context_tokens=row["latest_context_tokens"],
        title=row["title"],
        last_user_preview=row["last_user_preview"],
        latest_turn_id=row["latest_turn_id"],
        latest_turn_at_ms=row["latest_turn_at_ms"],
    )


def _hit(row: Row) -> KeyHit:
    return KeyHit(LinkKey(row["kind"], row["key"], row["ordinal"], row["info"]), node_from_row(row))


def _span(before: Position | None = None, after: Position | None = None) -> dict[str, Any]:
    b, a = before or BEFORE_ALL, after or AFTER_NONE
    return {"before_ms": b[0], "before_id": b[1], "after_ms": a[0], "after_id": a[1]}


class SqlLinkIndex:
    """``LinkIndex`` over one write transaction ``tx``."""

    def __init__(
        self, tx: Tx, q: Mapping[str, str], dialect: Dialect, requests: Requests, generation: int
    ) -> None:
        self.tx = tx
        self.generation = generation  # this transaction's count in link_generation
        self.q = q
        self.dialect = dialect
        self._requests = requests  # links are published through the requests area
        # has_continuation(node, before) of the nodes the last key lookup found, as that lookup
        # read it (``continued``); true until the next write.
        self._continued: dict[tuple[str, Position], bool] = {}
        # Postgres: new nodes with their keys and conversation summaries wait here until the next
        # read or other write, or the end of the pass, and then go in one statement (with the
        # links, at the end): a live record's node, summary and links are one round trip.
        self._pass_write = q.get("conv_pass_write")
        self._due_nodes: dict[str, tuple[dict[str, Any], Sequence[LinkKey]]] = {}
        self._due_summaries: dict[str, dict[str, Any]] = {}

    async def find_keys(
        self,
        scope: str,
        kinds: Sequence[str],
        keys: Sequence[str],
        *,
        before: Position | None = None,
        after: Position | None = None,
        since_ms: int | None = None,
        limit: int = 200,
    ) -> list[KeyHit]:
        if not keys:
            return []
        rows = await self._fetchall(
            self.q["conv_find_keys"],
            {**_span(before, after), "scope": scope, "kinds": self.dialect.array(kinds),
             "keys": self.dialect.array(keys), "limit": limit,
             "since_ms": _SINCE_ALL if since_ms is None else since_ms},
        )  # fmt: skip
        if before is not None:
            for r in rows:
                self._continued[(r["node_request_id"], before)] = bool(r["continued"])
        return [_hit(r) for r in rows]

    async def find_unclaimed_tasks(
        self, scope: str, keys: Sequence[str], *, before: Position, since_ms: int | None = None
    ) -> list[KeyHit]:
        if not keys:
            return []
        rows = await self._fetchall(
            self.q["conv_unclaimed_tasks"],
            {**_span(before), "scope": scope, "keys": self.dialect.array(keys),
             "since_ms": _SINCE_ALL if since_ms is None else since_ms},
        )  # fmt: skip
        return [_hit(r) for r in rows]

    async def first_session_node(
        self,
        scope: str,
        session_id: str,
        *,
        before: Position | None = None,
        after: Position | None = None,
    ) -> LinkNode | None:
        return await self._node(
            "conv_first_session_node",
            {**_span(before, after), "scope": scope, "session_id": session_id},
        )

    async def has_continuation(self, parent_request_id: str, before: Position) -> bool:
        known = self._continued.get((parent_request_id, before))
        if known is not None:  # the prefix lookup that found the parent read it
            return known
        params = {**_span(before), "parent": parent_request_id}
        return await self._fetchone(self.q["conv_has_continuation"], params) is not None

    async def count_branch_starts(self, conversation_id: str, prefix: str, before: Position) -> int:
        row = await self._fetchone(
            self.q["conv_count_branch_starts"],
            {**_span(before), "conversation_id": conversation_id, "prefix": prefix + "%"},
        )
        return int(row["n"]) if row else 0

    async def count_tasks(self, conversation_id: str, before: Position) -> int:
        row = await self._fetchone(
            self.q["conv_count_tasks"], {**_span(before), "conversation_id": conversation_id}
        )
        return int(row["n"] or 0) if row else 0

    async def branch_tip(
        self, conversation_id: str, branch: str, before: Position
    ) -> LinkNode | None:
        return await self._node(
            "conv_branch_tip",
            {**_span(before), "conversation_id": conversation_id, "branch": branch},
        )

    async def _node(self, name: str, params: dict[str, Any]) -> LinkNode | None:
        row = await self._fetchone(self.q[name], params)
        return None if row is None else node_from_row(row)

    async def _nodes(self, name: str, params: dict[str, Any]) -> list[LinkNode]:
        return [node_from_row(r) for r in await self._fetchall(self.q[name], params)]

    async def get_nodes(self, request_ids: Sequence[str]) -> list[LinkNode]:
        if not request_ids:
            return []
        return await self._nodes("conv_get_nodes", {"ids": self.dialect.array(request_ids)})

    async def newest_position(self) -> Position | None:
        row = await self._fetchone(self.q["conv_newest_position"], {})
        return None if row is None else (row["started_at_ms"], row["request_id"])

    async def last_position(self, conversation_id: str, exclude: str) -> Position | None:
        row = await self._fetchone(
            self.q["conv_last_position"], {"conversation_id": conversation_id, "exclude": exclude}
        )
        return None if row is None else (row["started_at_ms"], row["request_id"])

    async def nodes_after(self, conversation_id: str, after: Position) -> list[LinkNode]:
        return await self._nodes(
            "conv_nodes_after", {**_span(after=after), "conversation_id": conversation_id}
        )

    async def session_background(self, scope: str, session_id: str) -> list[LinkNode]:
        return await self._nodes(
            "conv_session_background", {"scope": scope, "session_id": session_id}
        )

    async def put_node(
        self, node: LinkNode, keys: Sequence[LinkKey], *, is_new: bool = False
    ) -> None:
        self._continued.clear()
        n = node
        values = {
            "request_id": n.request_id, "scope": n.scope, "started_at_ms": n.started_at_ms,
            "traffic_class": str(n.traffic_class), "edge": n.edge, "session_id": n.session_id,
            "agent_id": n.agent_id, "conversation_id": n.conversation_id,
            "parent_request_id": n.parent_request_id, "branch": n.branch,
            "subtask_of": n.subtask_of, "task_ordinal": n.task_ordinal,
            "branch_start": self.dialect.flag(n.branch_start), "task_count": n.task_count,
        }  # fmt: skip
        if is_new and self._pass_write is not None and n.request_id not in self._due_nodes:
            self._due_nodes[n.request_id] = (values, keys)
            return
        await self._execute(self.q["conv_node_upsert"], values)
        if not is_new:  # a node placed for the first time has no keys to replace
            await self._execute(self.q["conv_keys_delete"], {"request_id": n.request_id})
        if keys:
            await self._executemany(
                self.q["conv_key_insert"],
                [{"scope": n.scope, "kind": k.kind, "key": k.key, "started_at_ms": n.started_at_ms,
                  "request_id": n.request_id, "ordinal": k.ordinal, "info": k.info} for k in keys],
            )  # fmt: skip

    async def delete_nodes(self, request_ids: Sequence[str]) -> None:
        self._continued.clear()
        ids = [{"request_id": i} for i in request_ids]
        await self._executemany(self.q["conv_keys_delete"], ids)
        await self._executemany(self.q["conv_node_delete"], ids)

    async def missing_request_nodes(self, limit: int) -> list[LinkNode]:
        return await self._nodes("conv_missing_request_nodes", {"limit": limit})

    async def get_summary(self, conversation_id: str) -> ConversationSummary | None:
        row = await self._fetchone(self.q["conv_summary_get"], {"id": conversation_id})
        return None if row is None else conversation_from_row(row)

    async def put_summary(self, summary: ConversationSummary) -> None:
        if self._pass_write is not None:
            self._due_summaries[summary.id] = summary_params(summary)
            return
        await self._execute(self.q["conv_summary_upsert"], summary_params(summary))

    async def delete_summary(self, conversation_id: str) -> None:
        await self._execute(self.q["conv_summary_delete"], {"id": conversation_id})

    async def publish(self, links: Sequence[Link]) -> list[Link]:
        if not links:
            await self.flush()
            return []
        links = list({lk.request_id: lk for lk in links}.values())
        if self._pass_write is not None:
            at = now_ms()
            rows = await self._write_due(
                self._pass_write, {**LINKS.arrays([link_row(lk, at) for lk in links]), "at_ms": at}
            )
            written = {r["request_id"] for r in rows}
            if written:
                self.tx.notify = True
            return [lk for lk in links if lk.request_id in written]
        ids = self.dialect.array([lk.request_id for lk in links])
        rows = await self._fetchall(self.q["conv_links_get"], {"ids": ids})
        current = {r["request_id"]: link_from_row(r) for r in rows}
        changed = [lk for lk in links if current.get(lk.request_id) != lk]
        if changed:
            await self._requests.publish_links(self.tx, changed, now_ms())
        return changed

    async def summary_rows(self, conversation_id: str) -> list[tuple[LinkNode, RequestSummary]]:
        rows = await self._fetchall(self.q["conv_tree_rows"], {"conversation_id": conversation_id})
        return [(node_from_row(r), summary_from_row(r)) for r in rows]

    async def flush(self) -> None:
        """Write what waits (Postgres): before a read or another write, and before the commit."""
        if self._due_nodes or self._due_summaries:
            await self._write_due(self.q["conv_due_write"], {})

    async def _write_due(self, sql: str, params: dict[str, Any]) -> list[Row]:
        nodes = [values for values, _ in self._due_nodes.values()]
        keys = [
            {"scope": v["scope"], "kind": k.kind, "key": k.key, "started_at_ms": v["started_at_ms"],
             "request_id": v["request_id"], "ordinal": k.ordinal, "info": k.info}
            for v, node_keys in self._due_nodes.values() for k in node_keys
        ]  # fmt: skip
        summaries = list(self._due_summaries.values())
        self._due_nodes.clear()
        self._due_summaries.clear()
        return await self.tx.fetchall(sql, {
            **params,
            **LINK_NODES.arrays(nodes),
            **LINK_KEYS.arrays(keys),
            **CONVERSATIONS.arrays(summaries),
        })  # fmt: skip

    async def _fetchall(self, sql: str, params: dict[str, Any]) -> list[Row]:
        await self.flush()
        return await self.tx.fetchall(sql, params)

    async def _fetchone(self, sql: str, params: dict[str, Any]) -> Row | None:
        await self.flush()
        return await self.tx.fetchone(sql, params)

    async def _execute(self, sql: str, params: dict[str, Any]) -> int:
        await self.flush()
        return await self.tx.execute(sql, params)

    async def _executemany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.flush()
        await self.tx.executemany(sql, rows)
