"""The prompt library a ``Settings`` describes: its local folder, then its git checkout if any."""

from __future__ import annotations

from nexus.prompts.git_sync import GitSource, GitSync
from nexus.prompts.library import PromptLibrary
from nexus.settings import Settings


def git_sync_for(settings: Settings) -> GitSync | None:
    if not settings.prompts_git_url:
        return None
    source = GitSource(
        url=settings.prompts_git_url,
        branch=settings.prompts_git_branch,
        path=settings.prompts_git_path.strip("/"),
        interval_s=settings.prompts_git_interval_s,
    )
    return GitSync(source, settings.prompts_git_checkout)


def library_for(settings: Settings) -> PromptLibrary:
    """Local files first: a local prompt overrides a synced one of the same name."""
    sync = git_sync_for(settings)
    folders = [settings.prompts_folder]
    if sync is not None:
        folders.append(sync.prompts_folder)
    return PromptLibrary(folders)
