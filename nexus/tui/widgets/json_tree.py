"""``JsonTree``: a JSON document as a foldable tree with coloured values. Children are built when a
node is first expanded, so a 500 KB request body opens at once."""

from __future__ import annotations

from typing import Any

import orjson
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from nexus.numbers import counted

MAX_LABEL_CHARS = 160


def value_text(value: Any) -> Text:
    if isinstance(value, str):
        flat = value.replace("\n", "⏎")
        if len(flat) > MAX_LABEL_CHARS:
            flat = flat[:MAX_LABEL_CHARS] + f"… ({len(value):,} chars)"
        return Text(f'"{flat}"', style="green")
    if isinstance(value, bool) or value is None:
        return Text(orjson.dumps(value).decode(), style="magenta italic")
    if isinstance(value, (int, float)):
        return Text(str(value), style="cyan")
    if isinstance(value, dict):
        return Text(f"{{{counted(len(value), 'key')}}}", style="dim")
    if isinstance(value, list):
        return Text(f"[{counted(len(value), 'item')}]", style="dim")
    return Text(repr(value))


def _label(key: str | int | None, value: Any) -> Text:
    text = Text()
    if isinstance(key, str):
        text.append(key, style="bold blue")
        text.append(": ")
    elif isinstance(key, int):
        text.append(f"{key}", style="dim")
        text.append(": ")
    # Show what a message or block is at a glance: its role or type.
    if isinstance(value, dict):
        tag = value.get("type") or value.get("role")
        if isinstance(tag, str):
            text.append(f"{tag} ", style="bold yellow")
    text.append_text(value_text(value))
    return text


class JsonTree(Tree[Any]):
    DEFAULT_CSS = """
    JsonTree { background: $surface; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(label, id=id)
        self.show_root = True
        self.guide_depth = 3

    def load(self, document: Any, *, expand_depth: int = 2) -> None:
        """Show ``document``; containers are expanded down to ``expand_depth`` levels."""
        self.clear()
        self.root.data = document
        self.root.label = _label(None, document)
        self._expand(self.root, expand_depth)

    def _expand(self, node: TreeNode[Any], depth: int) -> None:
        if depth <= 0:
            return
        self._fill(node)
        node.expand()
        if len(node.children) > 50:
            return
        for child in node.children:
            if child.allow_expand:
                self._expand(child, depth - 1)

    def _fill(self, node: TreeNode[Any]) -> None:
        if node.children or not isinstance(node.data, (dict, list)):
            return
        items = node.data.items() if isinstance(node.data, dict) else enumerate(node.data)
        for key, value in items:
            is_container = isinstance(value, (dict, list)) and len(value) > 0
            node.add(_label(key, value), data=value, allow_expand=is_container)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        self._fill(event.node)
