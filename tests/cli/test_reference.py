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


def test_nexus_usage_shows_its_own_options_and_every_group():
    from nexus.records import USAGE_GROUPS

    text = render(app)
    section = text.split("## `nexus usage`", 1)[1].split("## `nexus usage recost`", 1)[0]
    assert "| `--by`, `-b` | `NEXUS_USAGE_BY` |" in section and "`--watch`" in section
    by = next(line for line in section.splitlines() if line.startswith("| `--by`"))
    assert all(group in by for group in USAGE_GROUPS)
