"""The analysis prompt: its text files, the version that keys stored analyses, and the choice of
instructions (the built-in ones or a person's own, e.g. ``nexus analyze --prompt FILE``).

Bump ``PROMPT_VERSION`` whenever the built-in text or the response schema changes in a way that
would change answers; a new version gives every conversation a fresh job while old results stay
readable. A custom prompt replaces the built-in instructions (``instructions.md``: who reads, what
to look for); the description of the answer's fields (``fields.md``) always follows, so any prompt
fills the same result. A custom prompt keys its jobs by a hash of its text: the same file gives
the same job, an edited one a new job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

PROMPT_VERSION = "v1"
BUILT_IN = "built-in"
MAX_PROMPT_CHARS = 20_000  # a page or two of instructions; the transcript is what is long
MAX_PROMPT_NAME_CHARS = 100


@cache
def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


class BadPrompt(ValueError):
    """A custom prompt that cannot be used, in a person's words."""


@dataclass(frozen=True, slots=True)
class PromptChoice:
    """The instructions an analysis follows: the built-in ones (``text`` None) or a custom text
    with the name a person knows it by (its file name)."""

    name: str = BUILT_IN
    text: str | None = None

    @property
    def key(self) -> str:
        """What a stored job is keyed by (its ``prompt_version``)."""
        if self.text is None:
            return PROMPT_VERSION
        return "custom-" + hashlib.sha256(self.text.encode()).hexdigest()[:16]


def custom_prompt(text: str, name: str = "custom") -> PromptChoice:
    """A custom prompt, checked: some text, at most ``MAX_PROMPT_CHARS``, no NUL; a short name."""
    body = text.strip()
    if not body:
        raise BadPrompt("the prompt is empty")
    if len(body) > MAX_PROMPT_CHARS:
        raise BadPrompt(f"the prompt has {len(body):,} characters; at most {MAX_PROMPT_CHARS:,}")
    if "\x00" in body:
        raise BadPrompt("the prompt is not text (it holds a NUL byte)")
    label = " ".join(name.split())[:MAX_PROMPT_NAME_CHARS] or "custom"
    if label == BUILT_IN:
        label = "custom"
    return PromptChoice(label, body)


def read_prompt_file(path: Path) -> PromptChoice:
    """A custom prompt from a UTF-8 text file, named by the file's name (checked as
    ``custom_prompt``; a file far too big is not read whole)."""
    try:
        with path.expanduser().open("rb") as file:
            raw = file.read(MAX_PROMPT_CHARS * 4 + 1)  # UTF-8: at most 4 bytes a character
    except OSError as exc:
        raise BadPrompt(f"cannot read the prompt file {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_PROMPT_CHARS * 4:
        raise BadPrompt(
            f"the prompt file {path} is too big; at most {MAX_PROMPT_CHARS:,} characters"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPrompt(f"the prompt file {path} is not UTF-8 text") from exc
    return custom_prompt(text, path.name)


def system_prompt(instructions: str | None = None) -> str:
    """The system instruction: the built-in instructions (or ``instructions``), then what each
    result field means."""
    head = _read("instructions.md").strip() if instructions is None else instructions.strip()
    return f"{head}\n\n{_read('fields.md').strip()}"


def closing_request(cut_note: str = "") -> str:
    """The last user turn asking for the analysis; names what was cut, when something was."""
    cut = f" (except for what was left out: {cut_note})" if cut_note else ""
    return _read("request.md").strip().format(cut=cut)


__all__ = [
    "BUILT_IN",
    "MAX_PROMPT_CHARS",
    "PROMPT_VERSION",
    "BadPrompt",
    "PromptChoice",
    "closing_request",
    "custom_prompt",
    "read_prompt_file",
    "system_prompt",
]
