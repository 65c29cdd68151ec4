"""The conversation engine: traffic classes, conversation trees, and their upkeep.

Pure decisions live in ``normalize.py`` (fingerprints), ``classify.py`` (traffic classes),
``linker.py`` (where a request goes), ``summary.py`` (per-conversation counts) and ``shape.py``
(how a conversation's requests arrange into a tree, for the exports and the TUI);
``reading.py`` loads one conversation from a store or the API client; ``worker.py``
links records beside the writer and repairs what late records change; ``rebuild.py`` re-links a
whole store in canonical order with the same result.

The names below load on first use: the TUI and the exports import ``shape`` alone, and must not pay
for the linker and the store protocols on start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexus.conversations.classify import BACKGROUND_CLASSES, classify
    from nexus.conversations.rebuild import rebuild_conversations
    from nexus.conversations.worker import ConversationLinker

__all__ = ["BACKGROUND_CLASSES", "ConversationLinker", "classify", "rebuild_conversations"]

_HOMES = {
    "BACKGROUND_CLASSES": "nexus.conversations.classify",
    "classify": "nexus.conversations.classify",
    "rebuild_conversations": "nexus.conversations.rebuild",
    "ConversationLinker": "nexus.conversations.worker",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'nexus.conversations' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
