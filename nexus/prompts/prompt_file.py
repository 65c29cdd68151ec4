"""One prompt file: its format, its validation and its rendering. The sole owner of the format.

A prompt file is YAML holding one mapping::

    name: review                     # [A-Za-z0-9_-], 1-64 characters; unique in the library
    description: Review the current diff
    arguments:                       # optional
      - name: focus                  # [A-Za-z_][A-Za-z0-9_]*
        description: What to look at first
        required: true               # default false
    template: |                      # Jinja2, rendered in its sandbox
      Review the diff. Look at {{ focus }} first.

Rendering uses Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a template cannot reach
Python internals, a required argument that is missing is an error naming it (never an empty
string), an optional argument that is not given is the empty string, and an argument the prompt
does not declare is refused. Arguments are data: they are never parsed as templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from nexus.errors import PromptError, RenderError

MAX_FILE_BYTES = 256 * 1024
MAX_RENDERED_CHARS = 200_000
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KEYS = frozenset({"name", "description", "arguments", "template"})
_ARG_KEYS = frozenset({"name", "description", "required"})
_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


@dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """A parsed, validated prompt; ``template`` is already compiled."""

    name: str
    description: str
    arguments: tuple[PromptArgument, ...]
    source: str  # the template text as written
    path: Path
    template: jinja2.Template = field(repr=False, compare=False)


def load_prompt_file(path: Path) -> Prompt:
    """Parse and validate one file; ``PromptError`` says what is wrong and where."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise PromptError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return parse_prompt(raw, path)


def parse_prompt(raw: bytes, path: Path) -> Prompt:
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PromptError(f"{path}: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: not valid YAML: {_first_line(str(exc))}") from exc
    except RecursionError as exc:  # PyYAML builds nested values recursively
        raise PromptError(f"{path}: nested too deeply") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{path}: expected a mapping with name, description and template")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise PromptError(
            f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})"
        )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PromptError(f"{path}: 'name' must be 1-64 letters, digits, '_' or '-'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PromptError(f"{path}: 'description' must be text")
    source = data.get("template")
    if not isinstance(source, str) or not source.strip():
        raise PromptError(f"{path}: 'template' must be non-empty text")
    arguments = _arguments(data.get("arguments"), path)
    try:
        template = _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{path}: template line {exc.lineno}: {exc.message}") from exc
    return Prompt(name, description.strip(), arguments, source, path, template)


def _arguments(value: Any, path: Path) -> tuple[PromptArgument, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PromptError(f"{path}: 'arguments' must be a list of {{name, description, required}}")
    out: list[PromptArgument] = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise PromptError(f"{path}: argument {i} must be a mapping")
        unknown = sorted(str(k) for k in item if k not in _ARG_KEYS)
        if unknown:
            raise PromptError(f"{path}: argument {i}: unknown key {unknown[0]!r}")
        name, description = item.get("name"), item.get("description", "")
        required = item.get("required", False)
        if not isinstance(name, str) or not _ARG_NAME.fullmatch(name):
            raise PromptError(f"{path}: argument {i}: 'name' must be an identifier")
        if not isinstance(description, str):
            raise PromptError(f"{path}: argument {name!r}: 'description' must be text")
        if not isinstance(required, bool):
            raise PromptError(f"{path}: argument {name!r}: 'required' must be true or false")
        if any(a.name == name for a in out):
            raise PromptError(f"{path}: argument {name!r} is declared twice")
        out.append(PromptArgument(name, description.strip(), required))
    return tuple(out)


def render(prompt: Prompt, arguments: dict[str, str] | None) -> str:
    """The prompt's text with ``arguments``; ``RenderError`` names a missing or unknown one."""
    given = dict(arguments or {})
    declared = {a.name for a in prompt.arguments}
    unknown = sorted(set(given) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise RenderError(
            f"prompt {prompt.name!r} has no argument {unknown[0]!r} (its arguments: {known})"
        )
    for arg in prompt.arguments:
        if arg.required and not given.get(arg.name):
            about = f" ({arg.description})" if arg.description else ""
            raise RenderError(f"prompt {prompt.name!r} needs the argument {arg.name!r}{about}")
        given.setdefault(arg.name, "")
    try:
        text = prompt.template.render(given)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"prompt {prompt.name!r}: {exc.message}") from exc
    except jinja2.TemplateError as exc:  # SecurityError included: the sandbox said no
        raise RenderError(f"prompt {prompt.name!r} failed to render: {exc}") from exc
    if len(text) > MAX_RENDERED_CHARS:
        raise RenderError(f"prompt {prompt.name!r} renders to over {MAX_RENDERED_CHARS} characters")
    return text


def prompt_json(prompt: Prompt, *, with_template: bool = False) -> dict[str, Any]:
    """The one JSON shape of a prompt (``nexus prompts --json``, ``GET /api/prompts``)."""
    body: dict[str, Any] = {
        "name": prompt.name,
        "description": prompt.description,
        "arguments": [
            {"name": a.name, "description": a.description, "required": a.required}
            for a in prompt.arguments
        ],
        "path": str(prompt.path),
    }
    if with_template:
        body["template"] = prompt.source
    return body


def _first_line(text: str) -> str:
    return " ".join(text.split())[:300]
