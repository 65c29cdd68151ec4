"""Where a request goes in its conversation tree: the decision rules of DESIGN.md §5.

Given a prepared request and a ``LinkIndex`` (a Protocol; the store implements it), ``decide``
returns the request's ``LinkNode`` and the keys it leaves for later requests. Every lookup is
"as of" the request's position (start time, id), so the decision depends only on requests that
started before it: that is what lets live linking, in whatever order records arrive, repair itself
into exactly what a rebuild in canonical order produces (``worker.py``). No I/O besides the index.

Rules, in order of authority:
- the session (header or ``metadata.user_id``) names the conversation once it has one; a session's
  first request may continue another conversation (a fork) only by a full earlier exchange;
- the longest normalised message prefix that is an earlier request's messages plus response (a
  continuation) or its messages alone (a retry, or a reply the client never saw) gives the parent;
  a parent that already has a continuation makes this request start a rewind branch ``branch-N``;
- the summarising call of a compaction follows the latest request of the branch it summarises;
- a compaction marker newer than the best prefix match joins the compaction call whose summary the
  message carries (branch ``compact-N``);
- a first user message equal to the prompt of an unclaimed ``Agent``/``Task`` tool_use starts a
  sub-task under that request (branch ``task-N``, N numbered by tool_use across the conversation);
  a fork sub-agent (the parent's whole history, then "Your directive: <prompt>") claims its tool_use
  the same way, by the directive, before any prefix match: by prefix it would continue its parent;
- a session's first request that continues a request of another session (``--resume S
  --fork-session``) starts a branch ``fork-N`` there (edge ``fork``): it never takes the place of
  S's own next turn, which still continues ``main``;
- anything else starts a conversation (or, inside a known session, a new root branch);
- background calls only take their session's conversation id, never a place in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from nexus.conversations.view import Prepared
from nexus.records import KeyHit, LinkKey, LinkNode, TrafficClass

if TYPE_CHECKING:
    from nexus.conversations.normalize import Fingerprint
    from nexus.store.base import LinkIndex

RECENT_MS = 24 * 3600 * 1000
"""How far back a request without a known session looks for its sub-agent call or summary."""
_FIRST_CHUNK = 8  # the common case: the previous turn is among the last few prefixes


@dataclass(frozen=True, slots=True)
class Decision:
    node: LinkNode
    keys: tuple[LinkKey, ...]
    first_in_session: bool = False  # the session had no conversation before this request


@dataclass(frozen=True, slots=True)
class _Placement:
    edge: str
    conversation_id: str
    branch: str
    branch_start: bool
    parent: LinkNode | None = None
    subtask_of: str | None = None
    task_ordinal: int | None = None


async def decide(prepared: Prepared, index: LinkIndex) -> Decision:
    if prepared.fingerprint is None:
        return Decision(await _background(prepared, index), ())
    return await _Decider(prepared, prepared.fingerprint, index).run()


async def _background(prepared: Prepared, index: LinkIndex) -> LinkNode:
    view = prepared.view
    conversation_id = None
    if view.session_id:
        # Not "as of": a title call may start a moment before the first turn of its session.
        first = await index.first_session_node(view.scope, view.session_id)
        conversation_id = first.conversation_id if first else None
    return LinkNode(
        request_id=view.request_id,
        scope=view.scope,
        started_at_ms=view.started_at_ms,
        traffic_class=prepared.traffic_class,
        edge="background",
        session_id=view.session_id,
        agent_id=view.agent_id,
        conversation_id=conversation_id,
    )


class _Decider:
    def __init__(self, prepared: Prepared, fp: Fingerprint, index: LinkIndex) -> None:
        self.p = prepared
        self.fp = fp
        self.ix = index
        self.view = prepared.view
        self.scope = prepared.view.scope
        self.pos = prepared.view.position
        self.session_conversation: str | None = None
        self.best_k = 0
        self.looked_for_task = False
        self.looked_for_summary = False

    async def run(self) -> Decision:
        view, fp = self.view, self.fp
        if view.session_id:
            first = await self.ix.first_session_node(self.scope, view.session_id, before=self.pos)
            self.session_conversation = first.conversation_id if first else None
        best, best_k = await self._best_prefix()
        self.best_k = best_k
        placement = None
        if fp.fork_keys:
            self.looked_for_task = True
            placement = await self._subtask(fp.fork_keys)
        if placement is None and fp.marker_index and best_k < fp.marker_index:
            self.looked_for_summary = True
            placement = await self._after_compaction()
        if placement is None and fp.first_user_keys and self._may_start_subtask(best, best_k):
            self.looked_for_task = True
            placement = await self._subtask(fp.first_user_keys)
        if placement is None and best is not None:
            placement = await self._continuation(best)
        if placement is None:
            placement = await self._root()
        return await self._decision(placement)

    def _since(self) -> int | None:
        return None if self.session_conversation else self.pos[0] - RECENT_MS

    async def _best_prefix(self) -> tuple[KeyHit | None, int]:
        keys = self.fp.prefix_keys
        order = {key: k for k, key in enumerate(keys, start=1)}
        newest_first = list(reversed(keys))
        for chunk in (newest_first[:_FIRST_CHUNK], newest_first[_FIRST_CHUNK:]):
            if not chunk:
                continue
            hits = await self.ix.find_keys(self.scope, ("c", "r"), chunk, before=self.pos)
            best: KeyHit | None = None
            best_rank: tuple[int, bool, bool, tuple[int, str]] | None = None
            for hit in hits:
                k = order[hit.key.key]
                if not self._allowed(hit, k):
                    continue
                same_agent = hit.node.agent_id == self.view.agent_id
                rank = (k, hit.key.kind == "c", same_agent, hit.node.position)
                if best_rank is None or rank > best_rank:
                    best, best_rank = hit, rank
            if best is not None and best_rank is not None:
                return best, best_rank[0]
        return None, 0

    def _allowed(self, hit: KeyHit, k: int) -> bool:
        if self.session_conversation:
            return hit.node.conversation_id == self.session_conversation
        if self.view.session_id:  # a new session continues another only by a whole exchange
            return hit.key.kind == "c" and k >= 2
        return True

    def _may_start_subtask(self, best: KeyHit | None, best_k: int) -> bool:
        if best is None:
            return True
        if best.key.kind != "r" or best_k > 1:
            return False
        # The same first message again: a retry of the same agent, or a new sub-agent.
        return not (self.view.agent_id and best.node.agent_id == self.view.agent_id)

    async def _after_compaction(self) -> _Placement | None:
        hits = await self.ix.find_keys(
            self.scope, ("s",), self.fp.marker_line_keys, before=self.pos, since_ms=self._since(),
            limit=1000,
        )  # fmt: skip
        votes: dict[str, tuple[int, LinkNode]] = {}
        for hit in hits:
            if self.session_conversation and hit.node.conversation_id != self.session_conversation:
                continue
            count, _ = votes.get(hit.node.request_id, (0, hit.node))
            votes[hit.node.request_id] = (count + 1, hit.node)
        if not votes:
            return None
        # Template lines match every summary; the lines of this one's content decide.
        _, source = max(votes.values(), key=lambda v: (v[0], v[1].position))
        conversation_id = source.conversation_id or source.request_id
        n = await self.ix.count_branch_starts(conversation_id, "compact-", self.pos) + 1
        return _Placement(
            "compact", conversation_id, f"compact-{n}", True, source, source.subtask_of
        )

    async def _subtask(self, keys: tuple[str, ...]) -> _Placement | None:
        hits = await self.ix.find_unclaimed_tasks(
            self.scope, keys, before=self.pos, since_ms=self._since()
        )
        for hit in hits:
            if self.session_conversation and hit.node.conversation_id != self.session_conversation:
                continue
            info = orjson.loads(hit.key.info) if hit.key.info else {}
            conversation_id = hit.node.conversation_id or hit.node.request_id
            return _Placement(
                edge="task",
                conversation_id=conversation_id,
                branch=f"task-{info.get('number', hit.key.ordinal + 1)}",
                branch_start=True,
                parent=hit.node,
                subtask_of=hit.node.request_id,
                task_ordinal=hit.key.ordinal,
            )
        return None

    async def _continuation(self, best: KeyHit) -> _Placement:
        parent = best.node
        edge = "cont" if best.key.kind == "c" else "retry"
        conversation_id = parent.conversation_id or parent.request_id
        if self.p.traffic_class is TrafficClass.COMPACTION:
            # The summarising call may leave out a tail it keeps verbatim: it still follows the
            # latest request of the branch it summarises, not the point where its history ends.
            tip = await self.ix.branch_tip(conversation_id, parent.branch or "main", self.pos)
            if tip is not None and tip.position > parent.position:
                parent = tip
            edge = "cont"
        if self._forks_session(parent):
            n = await self.ix.count_branch_starts(conversation_id, "fork-", self.pos) + 1
            return _Placement("fork", conversation_id, f"fork-{n}", True, parent, parent.subtask_of)
        if await self.ix.has_continuation(parent.request_id, self.pos):
            n = await self.ix.count_branch_starts(conversation_id, "branch-", self.pos) + 2
            return _Placement(edge, conversation_id, f"branch-{n}", True, parent, parent.subtask_of)
        branch = parent.branch or "main"
        return _Placement(edge, conversation_id, branch, False, parent, parent.subtask_of)

    def _forks_session(self, parent: LinkNode) -> bool:
        """A new session growing out of another session's exchange: ``--fork-session``. The session
        id is Claude Code's word, and it says this is not the other session's next turn."""
        return (
            self.session_conversation is None
            and bool(self.view.session_id)
            and bool(parent.session_id)
            and parent.session_id != self.view.session_id
        )

    async def _root(self) -> _Placement:
        conversation_id = self.session_conversation
        if conversation_id is None:
            return _Placement("root", self.view.request_id, "main", True)
        if self.fp.marker_index:  # a compaction whose summarising call Nexus never saw
            n = await self.ix.count_branch_starts(conversation_id, "compact-", self.pos) + 1
            return _Placement("root", conversation_id, f"compact-{n}", True)
        n = await self.ix.count_branch_starts(conversation_id, "branch-", self.pos) + 2
        return _Placement("root", conversation_id, f"branch-{n}", True)

    async def _decision(self, placement: _Placement) -> Decision:
        view, fp = self.view, self.fp
        traffic_class = self.p.traffic_class
        if traffic_class is TrafficClass.TURN and placement.subtask_of is not None:
            traffic_class = TrafficClass.SUBAGENT
        node = LinkNode(
            request_id=view.request_id,
            scope=self.scope,
            started_at_ms=view.started_at_ms,
            traffic_class=traffic_class,
            edge=placement.edge,
            session_id=view.session_id,
            agent_id=view.agent_id,
            conversation_id=placement.conversation_id,
            parent_request_id=placement.parent.request_id if placement.parent else None,
            branch=placement.branch,
            subtask_of=placement.subtask_of,
            task_ordinal=placement.task_ordinal,
            branch_start=placement.branch_start,
            task_count=len(fp.agent_calls),
        )
        keys: list[LinkKey] = []
        if fp.request_key:
            keys.append(LinkKey("r", fp.request_key))
        if fp.continuation_key:
            keys.append(LinkKey("c", fp.continuation_key))
        if fp.agent_calls:
            base = await self.ix.count_tasks(placement.conversation_id, self.pos)
            for i, call in enumerate(fp.agent_calls):
                info = {"tool_use_id": call.tool_use_id, "description": call.description,
                        "subagent_type": call.subagent_type, "number": base + i + 1}  # fmt: skip
                keys.append(LinkKey("t", call.prompt_key, i, orjson.dumps(info).decode()))
        if traffic_class is TrafficClass.COMPACTION:
            keys.extend(LinkKey("s", k, i) for i, k in enumerate(fp.summary_line_keys))
        # What it looked for and might still get (a longer or equally long prefix that wins the
        # tie, a sub-agent call, a summary): an earlier request arriving late with one of these
        # re-links it (worker.py).
        wanted_prefixes = fp.prefix_keys[max(self.best_k - 1, 0) :]
        keys.extend(LinkKey("w", k, i) for i, k in enumerate(wanted_prefixes))
        if self.looked_for_task:
            task_keys = fp.fork_keys + fp.first_user_keys
            keys.extend(LinkKey("wt", k, i) for i, k in enumerate(task_keys))
        if self.looked_for_summary:
            keys.extend(LinkKey("ws", k, i) for i, k in enumerate(fp.marker_line_keys))
        first_in_session = bool(view.session_id) and self.session_conversation is None
        return Decision(node, tuple(dict.fromkeys(keys)), first_in_session)


def provided_keys(decision: Decision) -> dict[str, list[str]]:
    """What a node offers, by the ``w`` kind that would have been waiting for it."""
    wanted: dict[str, list[str]] = {"w": [], "wt": [], "ws": []}
    for key in decision.keys:
        if key.kind in ("c", "r"):
            wanted["w"].append(key.key)
        elif key.kind == "t":
            wanted["wt"].append(key.key)
        elif key.kind == "s":
            wanted["ws"].append(key.key)
    return {kind: keys for kind, keys in wanted.items() if keys}
