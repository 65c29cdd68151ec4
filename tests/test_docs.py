"""What the README promises a newcomer is true of the code: the Python it needs, every setting's
environment variable, where the team-mode credential format is."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from nexus.settings import DECLARED

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_names_the_python_the_package_requires():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = re.fullmatch(r">=\s*(3\.\d+)", requires)
    assert version, requires
    assert f"Python {version.group(1)} or newer" in README


def test_every_environment_variable_settings_reads_is_documented():
    docs = README + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    missing = [d.env for d in DECLARED if d.env not in docs]
    assert missing == []
    assert "NEXUS_MAX_BODY_BYTES" in README  # the body limit (once read under two names)


def test_the_readme_links_the_credential_file_format():
    assert "(credentials/README.md)" in README
    assert (ROOT / "credentials" / "README.md").is_file()
