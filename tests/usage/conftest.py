"""Stores for the usage tests: the shared ``store`` fixture (SQLite, and Postgres in a fresh schema,
tests/fakes/stores.py) under the name these tests use."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def usage_store(store: Any) -> Any:
    return store
