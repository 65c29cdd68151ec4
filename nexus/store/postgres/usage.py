"""Postgres usage mixin: the shared usage queries (``nexus.store.usage_queries``) on Postgres.

Statements are in ``queries/postgres/usage.sql`` (``?`` placeholders, numbered when composed);
migration ``0003_usage`` adds the covering index that lets reports run as index-only scans.
"""

from __future__ import annotations

from nexus.store.usage_queries import UsageQueriesMixin


class UsageMixin(UsageQueriesMixin):
    """Usage reports, rate-limit readings, usage points and recost for PostgresStore."""


__all__ = ["UsageMixin"]
