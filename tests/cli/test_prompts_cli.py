"""`nexus prompts list | show | render | check | sync` over a folder of prompt files."""

from __future__ import annotations

import shutil

import orjson
import pytest
from typer.testing import CliRunner

from nexus.cli.main import app
from tests.prompts.git_repo import prompt_repo

REVIEW = """\
name: review
description: Review the diff
arguments:
  - name: focus
    description: What to look at
    required: true
template: "Look at {{ focus }}."
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "review.yaml").write_text(REVIEW)
    monkeypatch.setenv("NEXUS_PROMPTS_DIR", str(prompts))
    monkeypatch.setenv("NEXUS_DATA_DIR", str(tmp_path / "data"))
    return prompts


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_list_show_and_render(folder):
    listed = invoke("prompts", "list", "--json")
    assert listed.exit_code == 0, listed.output
    row = orjson.loads(listed.stdout.splitlines()[0])
    assert row["name"] == "review" and row["arguments"][0]["required"] is True
    shown = invoke("prompts", "show", "review")
    assert shown.exit_code == 0 and "Look at {{ focus }}." in shown.stdout
    rendered = invoke("prompts", "render", "review", "--arg", "focus=the tests")
    assert rendered.exit_code == 0 and rendered.stdout == "Look at the tests.\n"


def test_render_errors_name_the_problem(folder):
    missing = invoke("prompts", "render", "review")
    assert missing.exit_code == 1 and "needs the argument 'focus'" in missing.output
    unknown = invoke("prompts", "render", "nope")
    assert unknown.exit_code == 1 and "no prompt named 'nope'" in unknown.output
    bad = invoke("prompts", "render", "review", "--arg", "focus")
    assert bad.exit_code == 2 and "expected name=value" in bad.output


def test_check_reports_broken_files_and_fails(folder):
    assert invoke("prompts", "check").exit_code == 0
    (folder / "bad.yaml").write_text("name: [x\n")
    result = invoke("prompts", "check", "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout.splitlines()[0])["path"].endswith("bad.yaml")
    assert invoke("prompts", "list").exit_code == 0  # the good one still lists


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_sync_clones_and_a_failed_sync_exits_1(folder, tmp_path):
    bare, _ = prompt_repo(tmp_path, {"ship.yaml": "name: ship\ntemplate: go\n"})
    synced = invoke("prompts", "sync", "--prompts-git", str(bare))
    assert synced.exit_code == 0 and "cloned" in synced.output
    listed = invoke("prompts", "list", "--prompts-git", str(bare), "--json")
    assert {orjson.loads(line)["name"] for line in listed.stdout.splitlines()} == {"review", "ship"}
    gone = invoke("prompts", "sync", "--prompts-git", str(tmp_path / "missing.git"))
    assert gone.exit_code == 1 and "failed" in gone.output
