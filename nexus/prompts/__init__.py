"""The team's prompt library: YAML prompt files, rendered in Jinja2's sandbox, reloaded on change
and optionally synced from a git repository. Served over MCP (``nexus.mcp``) and by
``nexus prompts``. Not to be confused with ``nexus.analysis.prompts`` (Gemini's analysis prompts).
"""

from __future__ import annotations

from nexus.errors import PromptError, RenderError
from nexus.prompts.library import PromptLibrary
from nexus.prompts.prompt_file import (
    Prompt,
    PromptArgument,
    load_prompt_file,
    prompt_json,
    render,
)

__all__ = [
    "Prompt",
    "PromptArgument",
    "PromptError",
    "PromptLibrary",
    "RenderError",
    "load_prompt_file",
    "prompt_json",
    "render",
]
