"""The prompt file format: what is accepted, what is refused (with a message naming the problem),
and rendering in Jinja2's sandbox."""

from __future__ import annotations

import pytest

from nexus.errors import PromptError, RenderError
from nexus.prompts.prompt_file import parse_prompt, render

GOOD = b"""\
name: fix-test
description: Fix a failing test
arguments:
  - name: test
    description: The test's id
    required: true
  - name: hint
template: "Fix {{ test }}.{% if hint %} Hint: {{ hint }}{% endif %}"
"""


def prompt(raw: bytes = GOOD):
    return parse_prompt(raw, __import__("pathlib").Path("p.yaml"))


def test_a_good_file_parses_and_renders():
    p = prompt()
    assert (p.name, p.description, [(a.name, a.required) for a in p.arguments]) == (
        "fix-test", "Fix a failing test", [("test", True), ("hint", False)]
    )  # fmt: skip
    assert render(p, {"test": "t1"}) == "Fix t1."
    assert (
        render(p, {"test": "t1", "hint": "look at the clock"}) == "Fix t1. Hint: look at the clock"
    )


def test_arguments_are_data_not_templates():
    assert render(prompt(), {"test": "{{ 7 * 7 }}"}) == "Fix {{ 7 * 7 }}."


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs the argument 'test' \\(The test's id\\)"),
        ({"test": ""}, "needs the argument 'test'"),
        ({"test": "t", "other": "x"}, "has no argument 'other'"),
    ],
)
def test_missing_or_unknown_arguments_are_clear_errors(arguments, message):
    with pytest.raises(RenderError, match=message):
        render(prompt(), arguments)


def test_an_undeclared_variable_in_the_template_is_an_error_not_an_empty_string():
    p = prompt(b"name: x\ntemplate: 'Hello {{ who }}'\n")
    with pytest.raises(RenderError, match="'who' is undefined"):
        render(p, {})


def test_the_sandbox_refuses_python_internals():
    p = prompt(b"name: x\ntemplate: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n")
    with pytest.raises(RenderError, match="failed to render"):
        render(p, {})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"name: [unclosed", "not valid YAML"),
        (b"- a list", "expected a mapping"),
        (b"name: 'bad name!'\ntemplate: x", "'name' must be"),
        (b"name: x\n", "'template' must be non-empty"),
        (b"name: x\ntemplate: '{% if %}'", "template line 1"),
        (b"name: x\ntemplate: y\nfoo: 1", "unknown key 'foo'"),
        (b"name: x\ntemplate: y\narguments: [{name: a}, {name: a}]", "declared twice"),
        (b"name: x\ntemplate: y\narguments: [{name: a, required: maybe}]", "true or false"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_broken_files_are_refused_with_the_reason(raw, message):
    with pytest.raises(PromptError, match=message):
        prompt(raw)


def test_a_deeply_nested_file_is_a_broken_file_not_a_crash():
    with pytest.raises(PromptError, match="nested too deeply"):
        prompt(b"name: x\ntemplate: y\narguments: " + b"[" * 100_000 + b"]" * 100_000)
