"""docs/cli.md is the help of the commands as they are."""

from __future__ import annotations

from pathlib import Path

from nexus.cli.main import app
from nexus.cli.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date():
    assert DOC.read_text() == render(app), (
        "docs/cli.md is stale: run `python -m nexus.cli.reference > docs/cli.md`"
    )


def test_every_command_documents_its_options():
    text = render(app)
    for command in ("`nexus serve`", "`nexus logs`", "`nexus db prune`", "`nexus export`"):
        assert f"## {command}" in text
    assert "`DATABASE_URL`" in text and "`NEXUS_PROXY_PORT`" in text
