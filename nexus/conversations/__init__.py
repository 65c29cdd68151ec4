"""The conversation engine: traffic classes, conversation trees, and their upkeep.

Pure decisions live in ``normalize.py`` (fingerprints), ``classify.py`` (traffic classes),
``linker.py`` (where a request goes) and ``summary.py`` (per-conversation counts); ``worker.py``
links records beside the writer and repairs what late records change; ``rebuild.py`` re-links a
whole store in canonical order with the same result.
"""

from nexus.conversations.classify import BACKGROUND_CLASSES, classify
from nexus.conversations.rebuild import rebuild_conversations
from nexus.conversations.worker import ConversationLinker

__all__ = ["BACKGROUND_CLASSES", "ConversationLinker", "classify", "rebuild_conversations"]
