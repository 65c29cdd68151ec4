"""Stores for the analysis tests: the shared ``store`` fixture under the name these tests use, and
the session's Postgres database for the raw-SQL claim tests (tests/fakes/stores.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def raw_pg_url(pg_url: str) -> str:
    """The session's database (its public schema; store tests use schemas of their own)."""
    return pg_url


@pytest.fixture
def job_store(store: Any) -> Any:
    """The shared ``store`` fixture (SQLite; Postgres in a fresh schema), named for these tests."""
    return store
