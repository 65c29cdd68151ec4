"""Shared fixtures. Each fake server lives in tests/fakes/ and registers its fixtures here."""

from __future__ import annotations

import os

import pytest

pytest_plugins: list[str] = [
    "tests.fakes.gemini",
    "tests.fakes.upstream",
    "tests.fakes.raw_upstream",
    "tests.fakes.claude_code",
    "tests.fakes.oauth",
    "tests.fakes.stores",
    "tests.fakes.nexus",
    "tests.fakes.api_server",
    "tests.fakes.serve_process",
    "tests.fakes.alert_receivers",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Nexus or Anthropic settings."""
    for name in list(os.environ):
        if name.startswith(("NEXUS_", "ANTHROPIC_", "GEMINI_")) and name not in _KEEP:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DASHBOARD_API_KEY", raising=False)


_KEEP = {"NEXUS_TEST_POSTGRES_URL", "NEXUS_REQUIRE_POSTGRES"}
