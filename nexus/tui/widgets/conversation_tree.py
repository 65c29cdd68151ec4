"""``ConversationTreeView``: one conversation as a tree — the main line's requests in order, with
rewinds, compactions and sub-agents nested under the request they grew from.

A line-API widget over a flat list of visible lines: building it is one pass over the nodes and
drawing touches only the lines on screen, so a 500-request conversation opens as fast as a short
one (Textual's ``Tree`` re-lays itself out on every node added). Enter on a request posts
``RequestChosen``; enter or space on a node with children folds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nexus.conversations.shape import TreeItem, build_tree
from nexus.numbers import counted
from nexus.records import (
    ConversationBranch,
    ConversationSubtask,
    ConversationTree,
    RequestSummary,
    is_error,
)
from nexus.tui import cells

_BRANCH_MARK = {"rewind": "⑂", "compaction": "⟲", "task": "⤷", "fork": "⑃", "main": "●"}
INDENT = 3


def request_label(row: RequestSummary, tz: tzinfo | None) -> Text:
    text = Text(cells.clock(row.started_at_ms, tz), style="dim")
    text.append(" ")
    klass = cells.class_text(row.traffic_class)
    klass.pad_right(10 - klass.cell_len)
    text.append_text(klass)
    text.append(" ")
    if row.status != 200 or is_error(row.status, row.outcome):
        text.append_text(cells.status_text(row))
        text.append(" ")
    text.append(f"{cells.short_model(row.model):<10} ", style="dim")
    text.append(
        f"{cells.tokens(row.usage.total_tokens)} tok {cells.cost(row.cost_usd_micros)} "
        f"{cells.duration(row.duration_ms)}  ",
        style="dim" if row.is_background else "",
    )
    text.append_text(cells.cache_break_mark(row))
    preview = cells.one_line(row.user_preview or row.reply_preview, 60)
    text.append(preview, style="dim" if row.is_background else "")
    if row.stop_reason == "tool_use":
        text.append(" ⚙", style="yellow")
    return text


def branch_label(branch: ConversationBranch, subtask: ConversationSubtask | None) -> Text:
    mark = _BRANCH_MARK.get(branch.kind, "·")
    style = "bold magenta" if branch.kind == "task" else "bold cyan"
    text = Text(f"{mark} {branch.name}", style=style)
    if subtask is not None:
        kind = subtask.subagent_type or "sub-agent"
        text.append(f" · {kind}", style="magenta")
        if subtask.description:
            text.append(f" “{subtask.description}”")
    elif branch.kind == "rewind":
        text.append(" · rewound here", style="cyan")
    elif branch.kind == "compaction":
        text.append(" · continued after compaction", style="cyan")
    text.append(f" · {counted(branch.request_count, 'request')}", style="dim")
    return text


@dataclass(eq=False, slots=True)
class Node:
    """A drawn node: a request or a branch heading, with its children and fold state."""

    row: RequestSummary | None
    branch: ConversationBranch | None
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    expanded: bool = True

    @property
    def data(self) -> RequestSummary | None:
        return self.row


@dataclass(frozen=True, slots=True)
class _Line:
    node: Node
    guides: str  # the tree guides in front of the label ("│  ├─ ")


class ConversationTreeView(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="tree.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="tree.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="tree.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="tree.page_down"),
        Binding("home", "first", "First", show=False, id="tree.first"),
        Binding("end", "last", "Last", show=False, id="tree.last"),
        Binding("enter", "select", "Open", id="tree.open"),
        Binding("space", "fold", "Fold", show=False, id="tree.fold"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"tree--cursor", "tree--guides"}
    DEFAULT_CSS = """
    ConversationTreeView { background: $surface; overflow-x: hidden; }
    ConversationTreeView > .tree--cursor { background: $accent 40%; }
    ConversationTreeView:focus > .tree--cursor { background: $accent; color: $text; }
    ConversationTreeView > .tree--guides { color: $text-muted; }
    """

    cursor_line: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class RequestChosen(Message):
        row: RequestSummary

    def __init__(self, *, id: str | None = None, tz: tzinfo | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.roots: list[Node] = []
        self.nodes_by_id: dict[str, Node] = {}
        self._lines: list[_Line] = []
        self._strips: LRUCache[tuple[int, int, bool, int], Strip] = LRUCache(300)
        self._version = 0
        self.painted_version = -1  # the version of the lines last drawn (benchmarks wait on it)
        self._subtasks: dict[str, ConversationSubtask] = {}

    # -- content ------------------------------------------------------------------------------
    def draw(self, tree: ConversationTree, *, with_background: bool = True) -> None:
        self._subtasks = {s.branch: s for s in tree.subtasks}
        self.nodes_by_id = {}
        items = build_tree(tree, with_background=with_background)
        self.roots = [self._node(item, None) for item in items]
        self._relayout()

    def clear(self) -> None:
        self.roots, self.nodes_by_id = [], {}
        self._relayout()

    def _node(self, item: TreeItem, parent: Node | None) -> Node:
        node = Node(item.row, item.branch, parent=parent)
        node.children = [self._node(child, node) for child in item.children]
        if item.row is not None:
            self.nodes_by_id[item.row.id] = node
        return node

    def _label(self, node: Node) -> Text:
        if node.row is not None:
            return request_label(node.row, self.tz)
        assert node.branch is not None
        return branch_label(node.branch, self._subtasks.get(node.branch.name))

    def _relayout(self) -> None:
        """Flatten the unfolded nodes into lines, with their guides."""
        lines: list[_Line] = []

        def walk(nodes: list[Node], prefix: str, depth: int) -> None:
            for index, node in enumerate(nodes):
                last = index == len(nodes) - 1
                if depth == 0:
                    guides = "" if node.children else "  "  # lines up with "▼ "
                else:
                    guides = prefix + ("└─ " if last else "├─ ")
                lines.append(_Line(node, guides))
                if node.children and node.expanded:
                    inner = "" if depth == 0 else prefix + ("   " if last else "│  ")
                    walk(node.children, inner, depth + 1)

        walk(self.roots, "", 0)
        self._lines = lines
        self._version += 1
        self.virtual_size = Size(self.size.width, len(lines))
        self.cursor_line = min(self.cursor_line, max(0, len(lines) - 1))
        self.refresh()

    @property
    def cursor_node(self) -> Node | None:
        if 0 <= self.cursor_line < len(self._lines):
            return self._lines[self.cursor_line].node
        return None

    @property
    def cursor_request_id(self) -> str | None:
        node = self.cursor_node
        return node.row.id if node is not None and node.row is not None else None

    def focus_request(self, request_id: str) -> bool:
        node = self.nodes_by_id.get(request_id)
        if node is None:
            return False
        parent, changed = node.parent, False
        while parent is not None:  # unfold the way to it
            changed |= not parent.expanded
            parent.expanded = True
            parent = parent.parent
        if changed:
            self._relayout()
        for index, line in enumerate(self._lines):
            if line.node is node:
                self.cursor_line = index
                break
        return True

    # -- keys ---------------------------------------------------------------------------------
    def validate_cursor_line(self, value: int) -> int:
        return max(0, min(value, len(self._lines) - 1))

    def watch_cursor_line(self, old: int, new: int) -> None:
        top, height = round(self.scroll_y), max(1, self.size.height)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.cursor_line += step

    def action_page(self, step: int) -> None:
        self.cursor_line += step * max(1, self.size.height - 1)

    def action_first(self) -> None:
        self.cursor_line = 0

    def action_last(self) -> None:
        self.cursor_line = len(self._lines) - 1

    def action_select(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.row is not None:
            self.post_message(self.RequestChosen(node.row))
        else:
            self.action_fold()

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is not None and node.children:
            node.expanded = not node.expanded
            self._relayout()

    async def _on_click(self, event: events.Click) -> None:
        index = event.y + round(self.scroll_y)
        if index == self.cursor_line and event.chain >= 2:
            self.action_select()
        self.cursor_line = index

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(event.size.width, len(self._lines))

    # -- drawing ------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def render_line(self, y: int) -> Strip:
        if y == 0:
            self.painted_version = self._version
        index = y + round(self.scroll_y)
        width = self.size.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        is_cursor = index == self.cursor_line
        key = (index, width, is_cursor, self._version)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._line_strip(self._lines[index], width, is_cursor)
            self._strips[key] = strip
        return strip

    def _line_strip(self, line: _Line, width: int, is_cursor: bool) -> Strip:
        node = line.node
        text = Text(line.guides, style=self.get_component_rich_style("tree--guides"))
        if node.children:
            text.append("▼ " if node.expanded else "▶ ", style="bold")
        text.append_text(self._label(node))
        style: Style = self.rich_style
        if is_cursor:
            style = style + self.get_component_rich_style("tree--cursor")
        text.style = style
        text.truncate(width, overflow="ellipsis", pad=True)
        return Strip(list(text.render(self.app.console)), width)

    def jump(self, wanted: Callable[[RequestSummary], bool], step: int) -> bool:
        """Move the cursor to the next (``step`` 1) or previous (-1) drawn request ``wanted``
        accepts; False (the cursor stays) when there is none that way."""
        index = self.cursor_line + step
        while 0 <= index < len(self._lines):
            row = self._lines[index].node.row
            if row is not None and wanted(row):
                self.cursor_line = index
                return True
            index += step
        return False

    def line_texts(self) -> list[str]:
        """Every visible line as plain text (tests and the benchmark read the drawn tree)."""
        out = []
        for line in self._lines:
            node = line.node
            fold = ("▼ " if node.expanded else "▶ ") if node.children else ""
            out.append(line.guides + fold + self._label(node).plain)
        return out
