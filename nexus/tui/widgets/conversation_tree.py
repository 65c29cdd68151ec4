"""``ConversationTree``: one conversation as a Textual tree — the main line's requests in order,
with rewinds, compactions and sub-agents nested under the request they grew from. Selecting a
request posts ``RequestChosen``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from nexus.records import ConversationBranch, ConversationSubtask, ConversationTree, RequestSummary
from nexus.tui import cells
from nexus.tui.shape import TreeItem, build_tree, is_background

_BRANCH_MARK = {"rewind": "⑂", "compaction": "⟲", "task": "⤷", "main": "●"}


def request_label(row: RequestSummary, tz: tzinfo | None) -> Text:
    text = Text(cells.clock(row.started_at_ms, tz), style="dim")
    text.append(" ")
    klass = cells.class_text(row.traffic_class)
    klass.pad_right(10 - klass.cell_len)
    text.append_text(klass)
    text.append(" ")
    if row.status != 200:
        text.append_text(cells.status_text(row.status))
        text.append(" ")
    text.append(f"{cells.short_model(row.model):<10} ", style="dim")
    text.append(
        f"{cells.tokens(row.usage.total_tokens)} tok {cells.cost(row.cost_usd_micros)} "
        f"{cells.duration(row.duration_ms)}  ",
        style="dim" if is_background(row) else "",
    )
    preview = cells.one_line(row.user_preview or row.reply_preview, 60)
    text.append(preview, style="dim" if is_background(row) else "")
    if row.stop_reason == "tool_use":
        text.append(" ⚙", style="yellow")
    return text


def branch_label(branch: ConversationBranch, subtask: ConversationSubtask | None) -> Text:
    mark = _BRANCH_MARK.get(branch.kind, "·")
    text = Text(
        f"{mark} {branch.name}", style="bold magenta" if branch.kind == "task" else "bold cyan"
    )
    if subtask is not None:
        kind = subtask.subagent_type or "sub-agent"
        text.append(f" · {kind}", style="magenta")
        if subtask.description:
            text.append(f" “{subtask.description}”")
    elif branch.kind == "rewind":
        text.append(" · rewound here", style="cyan")
    elif branch.kind == "compaction":
        text.append(" · continued after compaction", style="cyan")
    plural = "" if branch.request_count == 1 else "s"
    text.append(f" · {branch.request_count} request{plural}", style="dim")
    return text


class ConversationTreeView(Tree[RequestSummary | None]):
    DEFAULT_CSS = """
    ConversationTreeView { background: $surface; }
    """

    @dataclass
    class RequestChosen(Message):
        row: RequestSummary

    def __init__(self, *, id: str | None = None, tz: tzinfo | None = None) -> None:
        super().__init__("conversation", id=id)
        self.tz = tz
        self.show_root = False
        self.guide_depth = 3
        self.nodes_by_id: dict[str, TreeNode[RequestSummary | None]] = {}

    def draw(self, tree: ConversationTree, *, with_background: bool = True) -> None:
        self.clear()
        self.nodes_by_id = {}
        subtasks = {s.branch: s for s in tree.subtasks}
        items = build_tree(tree, with_background=with_background)
        self._add(self.root, items, subtasks)
        self.root.expand()

    def _add(
        self,
        parent: TreeNode[RequestSummary | None],
        items: list[TreeItem],
        subtasks: dict[str, ConversationSubtask],
    ) -> None:
        for item in items:
            if item.row is not None:
                label = request_label(item.row, self.tz)
                if item.children:
                    node = parent.add(label, data=item.row, expand=True)
                    self._add(node, item.children, subtasks)
                else:
                    node = parent.add_leaf(label, data=item.row)
                self.nodes_by_id[item.row.id] = node
            elif item.branch is not None:
                node = parent.add(
                    branch_label(item.branch, subtasks.get(item.branch.name)),
                    data=None,
                    expand=True,
                )
                self._add(node, item.children, subtasks)

    def focus_request(self, request_id: str) -> bool:
        node = self.nodes_by_id.get(request_id)
        if node is None:
            return False

        def move() -> None:  # the tree knows a node's line only after it has laid out its lines
            self.move_cursor(node)
            self.scroll_to_node(node, animate=False)

        self.call_after_refresh(move)
        return True

    @property
    def cursor_request_id(self) -> str | None:
        node = self.cursor_node
        return node.data.id if node is not None and node.data is not None else None

    def on_tree_node_selected(self, event: Tree.NodeSelected[RequestSummary | None]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.RequestChosen(event.node.data))
