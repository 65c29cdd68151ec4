"""A running ``nexus serve`` serves prompt files as they change, without a restart, and from a
git repository it pulls in the background."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.mcp.conftest import mcp_session
from tests.prompts.git_repo import prompt_repo


async def prompt_names(url: str) -> dict[str, str]:
    async with mcp_session(url) as mcp:
        return {p.name: p.description or "" for p in (await mcp.list_prompts()).prompts}


async def eventually(url: str, expected: dict[str, str], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while (names := await prompt_names(url)) != expected:
            await asyncio.sleep(0.2)
    assert names == expected


async def test_edited_added_and_broken_files_reload_without_restart(
    tmp_path, prompts_dir, nexus_process
):
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}", extra_env={"NEXUS_PROMPTS_DIR": str(prompts_dir)}
    )
    url = nexus.proxy_url + "/mcp"
    assert await prompt_names(url) == {"review": "Review the current diff"}
    review = (prompts_dir / "review.yaml").read_text()
    (prompts_dir / "review.yaml").write_text(review.replace("Review the current diff", "Edited"))
    (prompts_dir / "ship.yaml").write_text("name: ship\ndescription: Ship it\ntemplate: go\n")
    await eventually(url, {"review": "Edited", "ship": "Ship it"})

    (prompts_dir / "broken.yaml").write_text("name: [oops\n")
    await asyncio.sleep(2.5)  # two polls: the broken file is seen and reported
    assert await prompt_names(url) == {"review": "Edited", "ship": "Ship it"}
    assert any("broken.yaml" in line and "not valid YAML" in line for line in nexus.log)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
async def test_prompts_from_a_git_repository(tmp_path, prompts_dir, nexus_process):
    synced = "name: synced\ndescription: From git\ntemplate: hi\n"
    bare, _ = prompt_repo(tmp_path, {"synced.yaml": synced})
    nexus = await nexus_process(
        f"sqlite:///{tmp_path / 'n.db'}",
        extra_env={
            "NEXUS_PROMPTS_DIR": str(prompts_dir),
            "NEXUS_PROMPTS_GIT": str(bare),
            "NEXUS_PROMPTS_GIT_INTERVAL": "1",
        },
    )
    url = nexus.proxy_url + "/mcp"
    await eventually(url, {"review": "Review the current diff", "synced": "From git"})
    bare.rename(tmp_path / "moved.git")  # pulls fail from now on: the last good version serves
    await asyncio.sleep(2.5)
    assert await prompt_names(url) == {"review": "Review the current diff", "synced": "From git"}
    assert any("git sync" in line and "failed" in line for line in nexus.log)
