"""A conversation's shape: how its requests arrange into a tree, the one place both the exports and
the TUI take it from. Pure: summaries (and the linker's branch records) in, plain structures out;
no bodies are read. Drawing it stays with each front end (``nexus.export.walk`` and the formats,
``nexus.tui.widgets.conversation_tree``).

Two arrangements of the same links, for two kinds of reader, sharing the order (``start_key``), the
tree parent (``tree_parent``) and what is background (``RequestSummary.is_background``):

- ``build_view``, for reading start to end (markdown, html, json): threads of turns from the links
  alone. A request's tree parent is ``parent_request_id`` when that request is in the
  conversation, else ``subtask_of``, else it is a root. A child that starts a sub-task
  (``subtask_of`` set and different from its parent's) becomes a sub-agent thread under the turn
  named by ``subtask_of``. Of the other children, the one on the parent's branch (else the
  earliest) continues the thread and each remaining child starts a branch thread. Background calls
  (quota, title, count_tokens, …) are listed apart and never continue a thread.
  ``select_branch`` narrows it to one branch with the turns that led there.
- ``build_tree``, for navigating (the TUI's tree): the linker's branches as recorded
  (``ConversationTree.branches``), each under the request it grew from, background calls under the
  request they followed. ``only_branches`` and ``branch_lineage`` narrow it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

from nexus.records import ConversationBranch, ConversationTree, RequestSummary


def start_key(s: RequestSummary) -> tuple[int, str]:
    """The order of a conversation's requests: by start, ties by id."""
    return (s.started_at_ms, s.id)


# -- the reading view (exports) -----------------------------------------------------------------
ThreadKind = Literal["main", "branch", "subagent"]


@dataclass(frozen=True, slots=True)
class Turn:
    summary: RequestSummary
    subagents: tuple[Thread, ...] = ()

    @property
    def id(self) -> str:
        return self.summary.id


@dataclass(frozen=True, slots=True)
class Thread:
    kind: ThreadKind
    branch: str | None
    anchor_id: str | None  # the turn a branch forks after, or the turn that spawned a sub-agent
    turns: tuple[Turn, ...]

    @property
    def id(self) -> str:
        return self.turns[0].id

    def walk_turns(self) -> list[Turn]:
        """This thread's turns with the turns of its sub-agents, depth first."""
        out: list[Turn] = []
        for turn in self.turns:
            out.append(turn)
            for sub in turn.subagents:
                out.extend(sub.walk_turns())
        return out


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: str
    threads: tuple[Thread, ...]  # the main thread first, then branches by start time
    background: tuple[RequestSummary, ...]
    requests: tuple[RequestSummary, ...]  # everything shown, oldest first

    def all_turns(self) -> list[Turn]:
        return [turn for thread in self.threads for turn in thread.walk_turns()]


def tree_parent(summary: RequestSummary, ids: set[str] | dict[str, RequestSummary]) -> str | None:
    if summary.parent_request_id is not None and summary.parent_request_id in ids:
        return summary.parent_request_id
    if summary.subtask_of is not None and summary.subtask_of in ids:
        return summary.subtask_of
    return None


def build_view(conversation_id: str, summaries: list[RequestSummary]) -> ConversationView:
    """Arrange ``summaries`` (one conversation) for reading."""
    by_id = {s.id: s for s in summaries}
    background = sorted((s for s in by_id.values() if s.is_background), key=start_key)
    shown = {i: s for i, s in by_id.items() if not s.is_background}

    children: dict[str | None, list[RequestSummary]] = defaultdict(list)
    for s in shown.values():
        children[_visible_parent(s, by_id, shown)].append(s)
    for kids in children.values():
        kids.sort(key=start_key)

    builder = _Builder(shown, children)
    roots = children[None]
    main_roots = [r for r in roots if not _starts_subtask(r, None)] or roots[:1]
    threads: list[Thread] = []
    for i, root in enumerate(main_roots):
        threads.append(builder.thread(root, "main" if i == 0 else "branch", None))
    # Sub-task roots whose spawning turn is not in this conversation still need a home.
    for root in roots:
        if root not in main_roots and root.id not in builder.placed:
            threads.append(builder.thread(root, "subagent", root.subtask_of))
    threads.extend(builder.branches)
    # A cycle in the links (never expected) would leave requests unplaced: show them anyway.
    for orphan in sorted(shown.values(), key=start_key):
        if orphan.id not in builder.placed:
            before = len(builder.branches)
            threads.append(builder.thread(orphan, "branch", None))
            threads.extend(builder.branches[before:])
    main, rest = threads[:1], sorted(threads[1:], key=lambda t: start_key(t.turns[0].summary))
    ordered = sorted(shown.values(), key=start_key)
    return ConversationView(conversation_id, tuple(main + rest), tuple(background), tuple(ordered))


def _visible_parent(
    s: RequestSummary, by_id: dict[str, RequestSummary], shown: dict[str, RequestSummary]
) -> str | None:
    # Skip over background requests so a turn whose parent was a quota probe still links up.
    seen: set[str] = set()
    parent = tree_parent(s, by_id)
    while parent is not None and parent not in shown and parent not in seen:
        seen.add(parent)
        parent = tree_parent(by_id[parent], by_id)
    return parent if parent in shown else None


def _starts_subtask(s: RequestSummary, parent: RequestSummary | None) -> bool:
    if s.subtask_of is None:
        return False
    return parent is None or parent.subtask_of != s.subtask_of or parent.id == s.subtask_of


class _Builder:
    def __init__(
        self, shown: dict[str, RequestSummary], children: dict[str | None, list[RequestSummary]]
    ) -> None:
        self.shown = shown
        self.children = children
        self.branches: list[Thread] = []
        self.placed: set[str] = set()

    def thread(self, start: RequestSummary, kind: ThreadKind, anchor: str | None) -> Thread:
        turns: list[Turn] = []
        current: RequestSummary | None = start
        while current is not None and current.id not in self.placed:
            self.placed.add(current.id)
            kids = self.children.get(current.id, [])
            subtasks = [k for k in kids if _starts_subtask(k, current)]
            others = [k for k in kids if k not in subtasks]
            subagents = tuple(self.thread(k, "subagent", current.id) for k in subtasks)
            turns.append(Turn(current, subagents))
            nxt = _continuation(current, others)
            for other in others:
                if other is not nxt and other.id not in self.placed:
                    self.branches.append(self.thread(other, "branch", current.id))
            current = nxt
        return Thread(kind, start.branch, anchor, tuple(turns))


def _continuation(parent: RequestSummary, kids: list[RequestSummary]) -> RequestSummary | None:
    for k in kids:
        if k.branch == parent.branch:
            return k
    return kids[0] if kids else None


def select_branch(view: ConversationView, branch: str) -> ConversationView:
    """Each thread that has turns on ``branch``, preceded by the turns that led to it (its
    anchors' threads up to the fork). A sub-agent's branch comes inside the turn that spawned it.
    Kept turns keep their sub-agents. Raises ``KeyError`` when no turn is on ``branch``."""
    owner: dict[str, tuple[Thread, int]] = {}
    threads: list[Thread] = []

    def index(thread: Thread) -> None:
        threads.append(thread)
        for i, turn in enumerate(thread.turns):
            owner[turn.id] = (thread, i)
            for sub in turn.subagents:
                index(sub)

    for thread in view.threads:
        index(thread)
    picked: list[Thread] = []
    for thread in threads:
        if all(t.summary.branch != branch for t in thread.turns):
            continue
        if thread.kind == "subagent" and thread.anchor_id in owner:
            host, i = owner[thread.anchor_id]
            spawner = dataclasses.replace(host.turns[i], subagents=(thread,))
            turns = [*_lead_in(host, owner), *host.turns[:i], spawner]
        else:
            turns = [*_lead_in(thread, owner), *thread.turns]
        picked.append(Thread("main" if not picked else "branch", branch, None, tuple(turns)))
    if not picked:
        raise KeyError(branch)
    kept = {turn.id for thread in picked for turn in thread.walk_turns()}
    return ConversationView(
        view.id,
        tuple(picked),
        view.background,
        tuple(s for s in view.requests if s.id in kept),
    )


def _lead_in(thread: Thread, owner: dict[str, tuple[Thread, int]]) -> list[Turn]:
    """The turns before a branch thread: its anchor's thread up to the fork, back to the root."""
    turns: list[Turn] = []
    while thread.kind == "branch" and thread.anchor_id is not None and thread.anchor_id in owner:
        thread, i = owner[thread.anchor_id]
        turns = [*thread.turns[: i + 1], *turns]
    return turns


def branch_names(view: ConversationView) -> list[str]:
    return sorted({s.branch for s in view.requests if s.branch})


# -- the branch tree (the TUI's navigator) ------------------------------------------------------
@dataclass(slots=True)
class TreeItem:
    """A node of the drawn tree: a request, or a branch heading grouping a branch's requests."""

    row: RequestSummary | None = None
    branch: ConversationBranch | None = None
    children: list[TreeItem] = field(default_factory=list)

    @property
    def size(self) -> int:
        return 1 + sum(child.size for child in self.children)


def build_tree(tree: ConversationTree, *, with_background: bool = True) -> list[TreeItem]:
    """Top-level items: the main branch's requests in order; every other branch nested under the
    request it forked from (a sub-task under the request whose response started it)."""
    rows = [r for r in tree.nodes if with_background or not r.is_background]
    by_id = {r.id: r for r in tree.nodes}
    items = {r.id: TreeItem(row=r) for r in rows}
    branches = {b.name: b for b in tree.branches}
    members: dict[str, list[TreeItem]] = defaultdict(list)
    loose: list[tuple[RequestSummary, TreeItem]] = []
    for row in rows:
        item = items[row.id]
        if row.branch and row.branch in branches and not row.is_background:
            members[row.branch].append(item)
        else:
            loose.append((row, item))

    top: list[TreeItem] = []
    roots = [
        b for b in tree.branches if b.fork_request_id is None or b.fork_request_id not in by_id
    ]
    main = next((b for b in roots if b.name == "main"), roots[0] if roots else None)
    for branch in tree.branches:
        group = members.get(branch.name, [])
        if branch is main or (branch in roots and not group):
            top.extend(group)
            continue
        heading = TreeItem(branch=branch, children=group)
        anchor = items.get(branch.fork_request_id or "")
        if branch.kind == "task":
            subtask = next((s for s in tree.subtasks if s.branch == branch.name), None)
            anchor = items.get(subtask.subtask_of if subtask else "") or anchor
        (anchor.children if anchor is not None else top).append(heading)
    for row, item in loose:
        # Background calls sit under the request they followed; unplaced rows at the top level.
        parent = items.get(row.parent_request_id or "")
        if parent is not None and parent is not item:
            parent.children.append(item)
        else:
            top.append(item)
    top.sort(key=_item_start)
    return top


def _item_start(item: TreeItem) -> tuple[int, str]:
    if item.row is not None:
        return start_key(item.row)
    first = item.children[0].row if item.children and item.children[0].row else None
    return start_key(first) if first else (0, "")


def branch_lineage(tree: ConversationTree, name: str) -> list[str]:
    """``name`` and the branches it grew from, back to a root (``main`` first): the whole story
    that leads to that branch."""
    by_name = {b.name: b for b in tree.branches}
    branch_of = {r.id: r.branch or "main" for r in tree.nodes}
    lineage: list[str] = []
    current = by_name.get(name)
    while current is not None and current.name not in lineage:
        lineage.append(current.name)
        parent = branch_of.get(current.fork_request_id or "")
        current = by_name.get(parent) if parent else None
    return lineage[::-1]


def only_branches(tree: ConversationTree, names: set[str]) -> ConversationTree:
    """``tree`` keeping the requests of the branches ``names`` (background calls with the request
    they followed), for the branch filter."""
    kept = {r.id for r in tree.nodes if not r.is_background and (r.branch or "main") in names}
    nodes = [
        r
        for r in tree.nodes
        if r.id in kept or (r.is_background and (r.parent_request_id or "") in kept)
    ]
    branches = [b for b in tree.branches if b.name in names]
    subtasks = [s for s in tree.subtasks if s.branch in names]
    return replace(tree, nodes=nodes, branches=branches, subtasks=subtasks)
