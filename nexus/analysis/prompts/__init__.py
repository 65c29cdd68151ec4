"""The analysis prompt: its text files and the version that keys stored analyses.

Bump ``PROMPT_VERSION`` whenever the text or the response schema changes in a way that would change
answers; a new version gives every conversation a fresh job while old results stay readable.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

PROMPT_VERSION = "v1"


@cache
def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def system_prompt() -> str:
    """The system instruction: who the reader is and what each result field means."""
    return _read("system.md").strip()


def closing_request(cut_note: str = "") -> str:
    """The last user turn asking for the analysis; names what was cut, when something was."""
    cut = f" (except for what was left out: {cut_note})" if cut_note else ""
    return _read("request.md").strip().format(cut=cut)


__all__ = ["PROMPT_VERSION", "closing_request", "system_prompt"]
