"""Git sync from a local bare repository: clone, update, a failed pull keeps the last good
checkout, local-only files are never touched."""

from __future__ import annotations

import shutil

import pytest

from nexus.prompts import PromptLibrary, render
from nexus.prompts.git_sync import GitSource, GitSync
from tests.prompts.git_repo import commit, prompt_repo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def repo(tmp_path):
    """(bare repository, a working clone to commit from)."""
    return prompt_repo(tmp_path, {"team/review.yaml": "name: review\ntemplate: 'v1'\n"})


def test_clone_update_and_a_failed_pull_keeps_the_last_good_version(repo, tmp_path):
    bare, work = repo
    local = tmp_path / "local"
    local.mkdir()
    (local / "mine.yaml").write_text("name: mine\ntemplate: 'local only'\n")
    sync = GitSync(GitSource(url=str(bare), path="team"), tmp_path / "data" / "prompts-git")
    lib = PromptLibrary([local, sync.prompts_folder])

    first = sync.sync()
    assert first.ok and first.message.startswith("cloned")
    lib.refresh()
    assert render(lib.prompts["review"], {}) == "v1" and "mine" in lib.prompts

    commit(work, "team/review.yaml", "name: review\ntemplate: 'v2'\n", "second")
    commit(work, "team/ship.yaml", "name: ship\ntemplate: 'ship it'\n", "third")
    second = sync.sync()
    assert second.ok and second.message.startswith("updated") and second.commit != first.commit
    lib.refresh()
    assert render(lib.prompts["review"], {}) == "v2" and set(lib.prompts) == {
        "review",
        "ship",
        "mine",
    }
    assert sync.sync().message.startswith("up to date")

    bare.rename(tmp_path / "gone.git")  # the remote is unreachable now
    failed = sync.sync()
    assert not failed.ok and failed.commit == second.commit and "keeping" in failed.message
    lib.refresh()
    assert set(lib.prompts) == {"review", "ship", "mine"}
    assert (local / "mine.yaml").exists()


def test_a_failed_first_clone_leaves_nothing_behind(tmp_path):
    checkout = tmp_path / "prompts-git"
    result = GitSync(GitSource(url=str(tmp_path / "missing.git")), checkout).sync()
    assert not result.ok and result.commit is None and "no earlier checkout" in result.message
    assert not checkout.exists() and list(tmp_path.iterdir()) == []


def test_a_password_in_the_url_never_reaches_the_message(tmp_path):
    url = "http://user:hunter2-secret@127.0.0.1:9/prompts.git"
    result = GitSync(GitSource(url=url), tmp_path / "c").sync()
    assert not result.ok and "hunter2" not in result.message and "127.0.0.1:9" in result.message


def test_an_unwritable_checkout_folder_is_a_failed_sync_not_a_crash(repo, tmp_path):
    bare, _ = repo
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = GitSync(GitSource(url=str(bare)), blocker / "prompts-git").sync()
    assert not result.ok and "failed" in result.message
