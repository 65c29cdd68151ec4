"""Analysis jobs on Postgres: the same operations as the SQLite mixin, with Postgres statements.

The logic (one transaction per state change, its ``analysis`` event alongside) is shared with
``nexus.store.sqlite.jobs``; only the SQL differs, chiefly ``jobs_claim``, whose subquery takes the
row ``FOR UPDATE SKIP LOCKED`` so concurrent workers in any number of processes never claim the same
job and never wait on each other's claims.
"""

from __future__ import annotations

from nexus.store.sqlite.jobs import JobsMixin as _SharedJobsMixin


class JobsMixin(_SharedJobsMixin):
    """Analysis jobs for ``PostgresStore`` (statements from ``queries/postgres/jobs.sql``)."""


__all__ = ["JobsMixin"]
