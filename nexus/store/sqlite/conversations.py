"""SQLite binding of the conversation engine's tables (``nexus/store/conversation_index.py``):
lists of values travel as JSON arrays read by ``json_each``; one process owns the file, so linkers
need no lock beyond the writer connection's."""

from __future__ import annotations

from typing import Any

import orjson

from nexus.store.conversation_index import ConversationsBase


class ConversationsMixin(ConversationsBase):
    def _array(self, values: list[Any]) -> Any:
        return orjson.dumps(values).decode()

    def _flag(self, value: bool) -> Any:
        return int(value)
