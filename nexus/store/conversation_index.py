"""The conversation engine's tables seen from Python, for both dialects: the ``LinkIndex`` bound to
one write transaction, and the read side (conversation lists, trees, rebuild streaming).

Both dialects use the same query names (``conv_*`` in ``queries/<dialect>/conversations.sql``);
what differs is bound here by two hooks of the dialect mixins: how a list of values is passed
(a JSON array for SQLite's ``json_each``, an array for Postgres' ``ANY``) and the statement that
serialises linkers across processes (an advisory lock on Postgres, nothing on SQLite).

Longer than ~400 lines because the write side (``LinkIndex``) and the read side share the
row mapping and the two dialect hooks; split them only together with those.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from nexus.records import (
    ConversationBranch,
    ConversationSubtask,
    ConversationSummary,
    ConversationTree,
    KeyHit,
    Link,
    LinkKey,
    LinkNode,
    Page,
    RequestFilter,
    RequestSummary,
    TrafficClass,
    branch_kind,
    now_ms,
)
from nexus.store.base import Position
from nexus.store.filters import contains
from nexus.store.rows import SUMMARY_WIDTH, summary_from_row

if TYPE_CHECKING:
    from nexus.store.sqlite.connection import SqliteConnection as _Base
else:
    _Base = object

_BEFORE_ALL: Position = (2**62, "")
_AFTER_NONE: Position = (-1, "")
_SINCE_ALL = -(2**62)


def node_from_row(row: Sequence[Any]) -> LinkNode:
    (request_id, scope, started, cls, edge, session, agent, conversation, parent, branch,
     subtask_of, task_ordinal, branch_start, task_count) = row[:14]  # fmt: skip
    return LinkNode(
        request_id=request_id,
        scope=scope,
        started_at_ms=started,
        traffic_class=TrafficClass(cls),
        edge=edge,
        session_id=session,
        agent_id=agent,
        conversation_id=conversation,
        parent_request_id=parent,
        branch=branch,
        subtask_of=subtask_of,
        task_ordinal=task_ordinal,
        branch_start=bool(branch_start),
        task_count=task_count,
    )


def summary_row(s: ConversationSummary) -> tuple[Any, ...]:
    return (
        s.id, s.host, s.account_id, s.client_key_id, s.session_id, s.started_at_ms, s.last_at_ms,
        s.last_request_id, s.request_count, orjson.dumps(s.class_counts).decode(), s.branch_count,
        s.subtask_count, s.input_tokens, s.output_tokens, s.cache_creation_tokens,
        s.cache_read_tokens, s.cost_usd_micros, ",".join(s.models), s.latest_context_tokens,
        s.latest_turn_id, s.latest_turn_at_ms, s.title, s.last_user_preview,
    )  # fmt: skip


def conversation_from_row(row: Sequence[Any]) -> ConversationSummary:
    (id_, host, account, client_key, session, started, last_at, last_id, count, classes,
     branches, subtasks, inp, out, cc, cr, cost, models, context, turn_id, turn_at, title,
     preview) = row[:23]  # fmt: skip
    return ConversationSummary(
        id=id_,
        started_at_ms=started,
        last_at_ms=last_at,
        last_request_id=last_id,
        host=host,
        account_id=account,
        client_key_id=client_key,
        session_id=session,
        request_count=count,
        class_counts=orjson.loads(classes),
        branch_count=branches,
        subtask_count=subtasks,
        input_tokens=inp,
        output_tokens=out,
        cache_creation_tokens=cc,
        cache_read_tokens=cr,
        cost_usd_micros=cost,
        models=tuple(m for m in models.split(",") if m),
        latest_context_tokens=context,
        title=title,
        last_user_preview=preview,
        latest_turn_id=turn_id,
        latest_turn_at_ms=turn_at,
    )


class SqlLinkIndex:
    """``LinkIndex`` over one transaction ``tx`` (anything with execute/executemany/fetch*)."""

    def __init__(self, tx: Any, array: Any, flag: Any, q: dict[str, str]) -> None:
        self.tx = tx
        self._array = array  # list of values → the dialect's bound form
        self._flag = flag  # bool → the dialect's bound form
        self.q = q

    def _sql(self, name: str) -> str:
        return self.q[name].format(node="n." + ", n.".join(_NODE_COLUMNS))

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
        b, a = before or _BEFORE_ALL, after or _AFTER_NONE
        rows = await self.tx.fetchall(
            self._sql("conv_find_keys"),
            [scope, self._array(list(kinds)), self._array(list(keys)), b[0], b[1], a[0], a[1],
             _SINCE_ALL if since_ms is None else since_ms, limit],
        )  # fmt: skip
        return [_hit(r) for r in rows]

    async def find_unclaimed_tasks(
        self, scope: str, keys: Sequence[str], *, before: Position, since_ms: int | None = None
    ) -> list[KeyHit]:
        if not keys:
            return []
        rows = await self.tx.fetchall(
            self._sql("conv_unclaimed_tasks"),
            [scope, self._array(list(keys)), before[0], before[1],
             _SINCE_ALL if since_ms is None else since_ms],
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
        b, a = before or _BEFORE_ALL, after or _AFTER_NONE
        row = await self.tx.fetchone(
            self._sql("conv_first_session_node"), [scope, session_id, b[0], b[1], a[0], a[1]]
        )
        return None if row is None else node_from_row(row)

    async def has_continuation(self, parent_request_id: str, before: Position) -> bool:
        row = await self.tx.fetchone(
            "conv_has_continuation", [parent_request_id, before[0], before[1]]
        )
        return row is not None

    async def count_branch_starts(self, conversation_id: str, prefix: str, before: Position) -> int:
        row = await self.tx.fetchone(
            "conv_count_branch_starts", [conversation_id, prefix + "%", before[0], before[1]]
        )
        return int(row[0]) if row else 0

    async def count_tasks(self, conversation_id: str, before: Position) -> int:
        row = await self.tx.fetchone("conv_count_tasks", [conversation_id, before[0], before[1]])
        return int(row[0] or 0) if row else 0

    async def branch_tip(
        self, conversation_id: str, branch: str, before: Position
    ) -> LinkNode | None:
        row = await self.tx.fetchone(
            self._sql("conv_branch_tip"), [conversation_id, branch, before[0], before[1]]
        )
        return None if row is None else node_from_row(row)

    async def get_nodes(self, request_ids: Sequence[str]) -> list[LinkNode]:
        if not request_ids:
            return []
        rows = await self.tx.fetchall(self._sql("conv_get_nodes"), [self._array(list(request_ids))])
        return [node_from_row(r) for r in rows]

    async def last_position(self, conversation_id: str, exclude: str) -> Position | None:
        row = await self.tx.fetchone("conv_last_position", [conversation_id, exclude])
        return None if row is None else (row[0], row[1])

    async def nodes_after(self, conversation_id: str, after: Position) -> list[LinkNode]:
        rows = await self.tx.fetchall(
            self._sql("conv_nodes_after"), [conversation_id, after[0], after[1]]
        )
        return [node_from_row(r) for r in rows]

    async def session_background(self, scope: str, session_id: str) -> list[LinkNode]:
        rows = await self.tx.fetchall(self._sql("conv_session_background"), [scope, session_id])
        return [node_from_row(r) for r in rows]

    async def put_node(
        self, node: LinkNode, keys: Sequence[LinkKey], *, is_new: bool = False
    ) -> None:
        n = node
        await self.tx.execute(
            "conv_node_upsert",
            [n.request_id, n.scope, n.started_at_ms, str(n.traffic_class), n.edge, n.session_id,
             n.agent_id, n.conversation_id, n.parent_request_id, n.branch, n.subtask_of,
             n.task_ordinal, self._flag(n.branch_start), n.task_count],
        )  # fmt: skip
        if not is_new:
            await self.tx.execute("conv_keys_delete", [n.request_id])
        if keys:
            await self.tx.executemany(
                "conv_key_insert",
                [(n.scope, k.kind, k.key, n.started_at_ms, n.request_id, k.ordinal, k.info)
                 for k in keys],
            )  # fmt: skip

    async def delete_nodes(self, request_ids: Sequence[str]) -> None:
        await self.tx.executemany("conv_keys_delete", [(i,) for i in request_ids])
        await self.tx.executemany("conv_node_delete", [(i,) for i in request_ids])

    async def missing_request_nodes(self, limit: int) -> list[LinkNode]:
        rows = await self.tx.fetchall(self._sql("conv_missing_request_nodes"), [limit])
        return [node_from_row(r) for r in rows]

    async def get_summary(self, conversation_id: str) -> ConversationSummary | None:
        row = await self.tx.fetchone("conv_summary_get", [conversation_id])
        return None if row is None else conversation_from_row(row)

    async def put_summary(self, summary: ConversationSummary) -> None:
        await self.tx.execute("conv_summary_upsert", summary_row(summary))

    async def delete_summary(self, conversation_id: str) -> None:
        await self.tx.execute("conv_summary_delete", [conversation_id])

    async def publish(self, links: Sequence[Link]) -> list[Link]:
        if not links:
            return []
        rows = await self.tx.fetchall(
            "conv_links_get", [self._array([lk.request_id for lk in links])]
        )
        current = {r[0]: Link(r[0], TrafficClass(r[1]), *r[2:7]) for r in rows}
        changed = [lk for lk in links if current.get(lk.request_id) != lk]
        if changed:
            at = now_ms()
            await self.tx.executemany(
                "link_upsert",
                [(lk.request_id, str(lk.traffic_class), lk.conversation_id, lk.parent_request_id,
                  lk.branch, lk.subtask_of, lk.agent_id, at) for lk in changed],
            )  # fmt: skip
            await self.tx.executemany(
                "event_insert", [("link", lk.request_id, at) for lk in changed]
            )
            self.tx.notify = True  # Postgres: wake other processes' live feeds on commit
        return changed

    async def summary_rows(self, conversation_id: str) -> list[tuple[LinkNode, RequestSummary]]:
        sql = self.q["conv_summary_rows"].format(
            summary_columns=self.q["summary_columns"], node="n." + ", n.".join(_NODE_COLUMNS)
        )
        rows = await self.tx.fetchall(sql, [conversation_id])
        return [(node_from_row(r[SUMMARY_WIDTH:]), summary_from_row(r)) for r in rows]


_NODE_COLUMNS = (
    "request_id", "scope", "started_at_ms", "traffic_class", "edge", "session_id", "agent_id",
    "conversation_id", "parent_request_id", "branch", "subtask_of", "task_ordinal",
    "branch_start", "task_count",
)  # fmt: skip


def _hit(row: Sequence[Any]) -> KeyHit:
    kind, key, ordinal, info = row[:4]
    return KeyHit(LinkKey(kind, key, ordinal, info), node_from_row(row[4:]))


class ConversationsBase(_Base):
    """The conversation half of a store; the dialect mixins set the hooks below."""

    _LOCK_QUERY: str | None = None

    def _array(self, values: list[Any]) -> Any:
        raise NotImplementedError

    def _flag(self, value: bool) -> Any:
        return value

    def _conv_sql(self, name: str) -> str:
        return self.q[name].format(
            summary_columns=self.q["summary_columns"], node="n." + ", n.".join(_NODE_COLUMNS)
        )

    @contextlib.asynccontextmanager
    async def link_index(self) -> AsyncIterator[SqlLinkIndex]:
        async with self._transaction() as tx:
            if self._LOCK_QUERY:
                await tx.execute(self._LOCK_QUERY)
            yield SqlLinkIndex(tx, self._array, self._flag, self.q)

    async def list_conversations(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]:
        where, params = self._conv_where(flt, cursor)
        sql = self._numbered(self.q["conv_list"].format(where=where))
        rows = await self._fetchall(sql, [*params, limit + 1])
        items = [conversation_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit and items
        return Page(items, f"{items[-1].last_at_ms}:{items[-1].id}" if more else None)

    async def count_conversations(self, flt: RequestFilter) -> int:
        where, params = self._conv_where(flt, None)
        row = await self._fetchone(self._numbered(self.q["conv_count"].format(where=where)), params)
        return int(row[0]) if row else 0

    def _conv_where(self, flt: RequestFilter, cursor: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []

        def add(name: str, *values: Any) -> None:
            clauses.append(self.q[name])
            params.extend(values)

        if cursor:
            at, _, last_id = cursor.partition(":")
            add("conv_filter_cursor", int(at), last_id)
        if flt.since_ms is not None:
            add("conv_filter_since", flt.since_ms)
        if flt.until_ms is not None:
            add("conv_filter_until", flt.until_ms)
        if flt.host:
            add("conv_filter_host", flt.host)
        if flt.account_id:
            add("conv_filter_account", flt.account_id)
        if flt.model:
            add("conv_filter_model", contains(flt.model))
        if flt.session_id:
            add("conv_filter_session", flt.session_id)
        if flt.conversation_id:
            add("conv_filter_id", flt.conversation_id)
        if flt.traffic_class:
            add("conv_filter_class", flt.traffic_class)
        if flt.text:
            # Every request's text, through the search index's own match (one query for both lists).
            clauses.append(self.q["conv_filter_text"].format(filter_text=self.q["filter_text"]))
            params.extend([contains(flt.text), contains(flt.text), flt.text])
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _numbered(self, sql: str) -> str:
        return sql

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        row = await self._fetchone("conv_summary_get", [conversation_id])
        if row is None:
            return None
        rows = await self._fetchall(self._conv_sql("conv_tree_rows"), [conversation_id])
        pairs = [(node_from_row(r[SUMMARY_WIDTH:]), summary_from_row(r)) for r in rows]
        nodes = [_with_link(summary, node) for node, summary in pairs]
        providers = sorted({n.subtask_of for n, _ in pairs if n.edge == "task" and n.subtask_of})
        infos: dict[tuple[str, int], dict[str, Any]] = {}
        if providers:
            for request_id, ordinal, info in await self._fetchall(
                "conv_task_infos", [self._array(providers)]
            ):
                infos[(request_id, ordinal)] = orjson.loads(info) if info else {}
        conversational = [n for n, _ in pairs if n.edge != "background"]
        return ConversationTree(
            summary=conversation_from_row(row),
            nodes=nodes,
            branches=_branches(conversational),
            subtasks=_subtasks(conversational, infos),
        )

    async def linking_positions(self, after: Position | None, limit: int = 500) -> list[Position]:
        a = after or _AFTER_NONE
        rows = await self._fetchall("conv_positions", [a[0], a[1], limit])
        return [(r[0], r[1]) for r in rows]

    async def unlinked_request_ids(self, limit: int = 500) -> list[str]:
        return [r[0] for r in await self._fetchall("conv_unlinked", [limit])]

    async def unpublished_links(self, limit: int = 500) -> list[Link]:
        rows = await self._fetchall(self._conv_sql("conv_unpublished"), [limit])
        return [node_from_row(r).link() for r in rows]

    async def stored_links(self, request_ids: Sequence[str]) -> dict[str, Link]:
        if not request_ids:
            return {}
        rows = await self._fetchall("conv_links_get", [self._array(list(request_ids))])
        return {r[0]: Link(r[0], TrafficClass(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows}

    async def clear_link_index(self) -> None:
        async with self._transaction() as tx:
            if self._LOCK_QUERY:
                await tx.execute(self._LOCK_QUERY)
            for name in ("conv_clear_keys", "conv_clear_nodes", "conv_clear_summaries"):
                await tx.execute(name)


def _with_link(summary: RequestSummary, node: LinkNode) -> RequestSummary:
    """The request's row with the link the engine holds now (the links table may lag a moment)."""
    return replace(
        summary,
        traffic_class=node.traffic_class,
        conversation_id=node.conversation_id,
        parent_request_id=node.parent_request_id,
        branch=node.branch,
        subtask_of=node.subtask_of,
    )


def _branches(nodes: list[LinkNode]) -> list[ConversationBranch]:
    if not nodes:
        return []
    groups: dict[str, list[LinkNode]] = {}
    for node in nodes:
        groups.setdefault(node.branch or "main", []).append(node)
    branches = []
    for name, members in groups.items():
        first = next((n for n in members if n.branch_start), members[0])
        kind = branch_kind(name)
        branches.append(
            ConversationBranch(
                name=name,
                kind=kind,
                first_request_id=first.request_id,
                fork_request_id=first.parent_request_id,
                request_count=len(members),
                last_request_id=members[-1].request_id,
            )
        )
    return sorted(
        branches, key=lambda b: (b.first_request_id != nodes[0].request_id, b.first_request_id)
    )


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
