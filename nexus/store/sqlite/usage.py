"""SQLite usage mixin: the shared usage queries (``nexus.store.usage_queries``) on SQLite.

Statements are in ``queries/sqlite/usage.sql``; migration ``0003_usage`` adds the covering index
that keeps a report over 100 000 requests well under a second.
"""

from __future__ import annotations

from nexus.store.usage_queries import UsageQueriesMixin


class UsageMixin(UsageQueriesMixin):
    """Usage reports, rate-limit readings, usage points and recost for SqliteStore."""


__all__ = ["UsageMixin"]
