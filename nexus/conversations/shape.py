"""A conversation's shape: how its requests arrange into a tree, the one place both the exports and
the TUI take it from. Pure: summaries and the linker's branch records in, plain structures out; no
bodies are read. Drawing it stays with each front end (``nexus.export.walk`` and the formats,
``nexus.tui.widgets.conversation_tree``).

One arrangement, ``arrange``: the linker's branches as recorded (``ConversationBranch``), the main
branch's requests at the top, every other branch under the request it grew from (a sub-task under
the request whose response started it), background calls under the request they followed. The
linker is what knows branches, compactions and sub-agent tasks, so neither reader re-derives them
from the request links.

- ``build_tree`` is that arrangement, for navigating (the TUI's tree); ``only_branches`` and
  ``branch_lineage`` narrow it.
- ``build_view`` reads the same items start to end (markdown, html, json): the top level is the
  main thread, each branch a thread anchored at the turn it grew from, each sub-task a sub-agent
  thread inside the turn that spawned it, background calls listed apart. ``select_branch`` narrows
  it to one branch with the turns that led there; ``branch_path`` to what that branch's agent went
  through (the analysis reads it).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
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


def build_view(
    conversation_id: str, nodes: list[RequestSummary], branches: list[ConversationBranch]
) -> ConversationView:
    """Arrange one conversation for reading: ``arrange``'s items as threads. Every request is in
    exactly one place (a turn of one thread, or ``background``); a thread's turns are its branch's
    requests by start."""
    threads = _Threads()
    main = threads.thread("main", None, arrange(nodes, branches))
    # A branch no item leads to (a cycle in hand-made links, never from the linker) still shows.
    left = [s for s in sorted(nodes, key=start_key) if not s.is_background]
    for name in dict.fromkeys(s.branch for s in left if s.id not in threads.placed):
        rows = [s for s in left if s.branch == name and s.id not in threads.placed]
        threads.placed.update(s.id for s in rows)
        threads.others.append(Thread("branch", name, None, tuple(Turn(s) for s in rows)))
    rest = sorted(threads.others, key=_thread_start)
    return ConversationView(
        conversation_id,
        tuple([main, *rest] if main is not None else rest),
        tuple(sorted((s for s in nodes if s.is_background), key=start_key)),
        tuple(sorted((s for s in nodes if not s.is_background), key=start_key)),
    )


def _thread_start(thread: Thread) -> tuple[int, str]:
    return start_key(thread.turns[0].summary)


class _Threads:
    """Reads ``arrange``'s items into threads: a branch heading is a thread (a sub-task's nested in
    the turn that spawned it, any other kind's among ``others``); background rows are skipped, what
    hangs under them read as if it hung under their turn."""

    def __init__(self) -> None:
        self.others: list[Thread] = []
        self.placed: set[str] = set()

    def thread(self, kind: ThreadKind, anchor: str | None, items: list[TreeItem]) -> Thread | None:
        turns: list[Turn] = []
        for item in _skip_background(items):
            if item.row is None:  # a root branch's heading: its own thread
                self._heading(item, None)
            else:
                turns.append(self._turn(item.row, item.children))
        return Thread(kind, turns[0].summary.branch, anchor, tuple(turns)) if turns else None

    def _turn(self, row: RequestSummary, children: list[TreeItem]) -> Turn:
        self.placed.add(row.id)
        subagents: list[Thread] = []
        for child in _skip_background(children):
            if child.row is None:
                sub = self._heading(child, row.id)
                if sub is not None and sub.kind == "subagent":
                    subagents.append(sub)
            else:  # a request outside any branch record: a thread of its own from here
                loose = self.thread("branch", row.id, [child])
                if loose is not None:
                    self.others.append(loose)
        return Turn(row, tuple(sorted(subagents, key=_thread_start)))

    def _heading(self, item: TreeItem, anchor: str | None) -> Thread | None:
        assert item.branch is not None
        if item.branch.kind == "task":
            spawner = anchor or _subtask_of(item.children)
            sub = self.thread("subagent", spawner, item.children)
            if anchor is None and sub is not None:  # its spawner is not in this conversation
                self.others.append(sub)
            return sub
        thread = self.thread("branch", anchor, item.children)
        if thread is not None:
            self.others.append(thread)
        return thread


def _skip_background(items: list[TreeItem]) -> Iterator[TreeItem]:
    for item in items:
        if item.row is not None and item.row.is_background:
            yield from _skip_background(item.children)
        else:
            yield item


def _subtask_of(items: list[TreeItem]) -> str | None:
    return next((i.row.subtask_of for i in items if i.row and i.row.subtask_of), None)


def select_branch(view: ConversationView, branch: str) -> ConversationView:
    """Each thread that has turns on ``branch``, preceded by the turns that led to it (its
    anchors' threads up to the fork). A sub-agent's branch comes inside the turn that spawned it.
    Kept turns keep their sub-agents. Raises ``KeyError`` when no turn is on ``branch``."""
    owner, threads = _threads_on(view, branch)
    picked: list[Thread] = []
    for thread in threads:
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


def branch_path(view: ConversationView, branch: str) -> list[RequestSummary]:
    """What ``branch``'s own agent went through, in order: ``select_branch``'s turns without other
    agents' (a sub-agent's branch without the turns before its spawn, any branch without the
    sub-agents spawned along the way). Empty when no turn is on ``branch``."""
    owner, threads = _threads_on(view, branch)
    return [t.summary for thread in threads for t in [*_lead_in(thread, owner), *thread.turns]]


def _threads_on(
    view: ConversationView, branch: str
) -> tuple[dict[str, tuple[Thread, int]], list[Thread]]:
    """Where each turn is (its thread and rank), and the threads, sub-agents' included, that have
    turns on ``branch``."""
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
    return owner, [t for t in threads if any(turn.summary.branch == branch for turn in t.turns)]


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
    """``arrange`` of a tree the store or the API gave."""
    return arrange(tree.nodes, tree.branches, with_background=with_background)


def arrange(
    nodes: list[RequestSummary],
    branches: list[ConversationBranch],
    *,
    with_background: bool = True,
) -> list[TreeItem]:
    """Top-level items: the main branch's requests in order; every other branch nested under the
    request it forked from (a sub-task under the request whose response started it)."""
    rows = [r for r in nodes if with_background or not r.is_background]
    by_id = {r.id: r for r in nodes}
    items = {r.id: TreeItem(row=r) for r in rows}
    by_name = {b.name: b for b in branches}
    members: dict[str, list[TreeItem]] = defaultdict(list)
    loose: list[tuple[RequestSummary, TreeItem]] = []
    for row in rows:
        item = items[row.id]
        if row.branch and row.branch in by_name and not row.is_background:
            members[row.branch].append(item)
        else:
            loose.append((row, item))

    top: list[TreeItem] = []
    roots = [b for b in branches if b.fork_request_id is None or b.fork_request_id not in by_id]
    main = next((b for b in roots if b.name == "main"), roots[0] if roots else None)
    for branch in branches:
        group = members.get(branch.name, [])
        if branch is main or (branch in roots and not group):
            top.extend(group)
            continue
        heading = TreeItem(branch=branch, children=group)
        anchor = items.get(branch.fork_request_id or "")
        if branch.kind == "task":  # its requests carry the request that spawned it
            anchor = items.get(_subtask_of(group) or "") or anchor
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
