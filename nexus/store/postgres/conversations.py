"""Postgres binding of the conversation engine's tables (``nexus/store/conversation_index.py``):
lists of values travel as ``text[]`` for ``= ANY``; every linking transaction first takes one
transaction-scoped advisory lock, so the linkers of several processes take turns and each sees what
the previous one committed."""

from __future__ import annotations

from typing import Any

from nexus.store.conversation_index import ConversationsBase
from nexus.store.filters import numbered

LINK_LOCK = 0x6C696E6B  # "link": the one lock every Nexus linker takes


class ConversationsMixin(ConversationsBase):
    _LOCK_QUERY = f"SELECT pg_advisory_xact_lock({LINK_LOCK})"

    def _array(self, values: list[Any]) -> Any:
        return values

    def _flag(self, value: bool) -> Any:
        return bool(value)

    def _numbered(self, sql: str) -> str:
        return numbered(sql)
