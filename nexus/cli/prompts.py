"""`nexus prompts list | show | render | check | sync`: the prompt library ``/mcp`` serves, read from
the same folders as `nexus serve` (``--prompts-dir``, then the ``--prompts-git`` checkout)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexus.cli import options
from nexus.cli.output import EXIT_USAGE, err, fail, out, print_json
from nexus.numbers import counted
from nexus.settings import Settings

if TYPE_CHECKING:
    from nexus.prompts import Prompt, PromptLibrary

app = typer.Typer(
    help="The team's prompt library that /mcp serves to Claude Code (docs/mcp.md).",
    no_args_is_help=True,
)


def _settings(
    data_dir: Path | None,
    prompts_dir: Path | None,
    prompts_git: str | None = None,
    prompts_git_branch: str | None = None,
    prompts_git_path: str | None = None,
) -> Settings:
    return options.settings(
        data_dir=data_dir,
        prompts_dir=prompts_dir,
        prompts_git_url=prompts_git,
        prompts_git_branch=prompts_git_branch,
        prompts_git_path=prompts_git_path,
    )


def _library(
    data_dir: Path | None,
    prompts_dir: Path | None,
    prompts_git: str | None,
    prompts_git_path: str | None,
) -> tuple[Settings, PromptLibrary]:
    """The settings the read-only commands share (no branch: they read the checkout as it is) and
    the library loaded from them."""
    from nexus.prompts.config import library_for

    settings = _settings(data_dir, prompts_dir, prompts_git, None, prompts_git_path)
    library = library_for(settings)
    library.refresh()
    return settings, library


def _prompt_json(p: Prompt, *, with_template: bool = False) -> dict[str, object]:
    from nexus.prompts import prompt_json

    return prompt_json(p, with_template=with_template)


@app.command("list")
def list_prompts(
    data_dir: options.DataDir = None,
    prompts_dir: options.PromptsDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_path: options.PromptsGitPath = None,
    as_json: options.Json = False,
) -> None:
    """List the prompts (name, arguments, description); broken files are named on stderr."""
    settings, library = _library(data_dir, prompts_dir, prompts_git, prompts_git_path)
    for p in library.prompts.values():
        if as_json:
            print_json(_prompt_json(p))
            continue
        args = " ".join(f"<{a.name}>" if a.required else f"[{a.name}]" for a in p.arguments)
        out.print(f"{p.name:<24} {args:<28} {p.description}", highlight=False, markup=False)
    if not library.prompts:
        err.print(f"no prompts in {settings.prompts_folder}: add *.yaml files (docs/mcp.md)")
    for path, message in library.errors.items():
        err.print(f"[yellow]broken:[/] {path}: {message}", highlight=False, soft_wrap=True)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The prompt's name.")],
    data_dir: options.DataDir = None,
    prompts_dir: options.PromptsDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_path: options.PromptsGitPath = None,
    as_json: options.Json = False,
) -> None:
    """Show one prompt: its file, arguments and template."""
    _, library = _library(data_dir, prompts_dir, prompts_git, prompts_git_path)
    p = _get(library, name)
    if as_json:
        print_json(_prompt_json(p, with_template=True))
        return
    out.print(f"{p.name}  ({p.path})\n{p.description}", highlight=False, markup=False)
    for a in p.arguments:
        need = "required" if a.required else "optional"
        out.print(f"  {a.name} ({need})  {a.description}", highlight=False, markup=False)
    out.print("---\n" + p.source.rstrip(), highlight=False, markup=False)


@app.command("render")
def render_prompt(
    name: Annotated[str, typer.Argument(help="The prompt's name.")],
    arg: Annotated[
        list[str] | None,  # noqa: UP007
        typer.Option("--arg", "-a", help="An argument as name=value; repeat for more."),
    ] = None,
    data_dir: options.DataDir = None,
    prompts_dir: options.PromptsDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_path: options.PromptsGitPath = None,
) -> None:
    """Print the prompt rendered with its arguments, exactly as Claude Code receives it."""
    from nexus.errors import RenderError
    from nexus.prompts import render

    _, library = _library(data_dir, prompts_dir, prompts_git, prompts_git_path)
    p = _get(library, name)
    arguments: dict[str, str] = {}
    for item in arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--arg {item!r}: expected name=value", EXIT_USAGE)
        arguments[key] = value
    try:
        text = render(p, arguments)
    except RenderError as exc:
        fail(exc.message)
    typer.echo(text)  # exactly the rendered text: no markup, no wrapping


@app.command("check")
def check(
    data_dir: options.DataDir = None,
    prompts_dir: options.PromptsDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_path: options.PromptsGitPath = None,
    as_json: options.Json = False,
) -> None:
    """Parse every prompt file; name each broken one and why; exit 1 if any is broken."""
    _, library = _library(data_dir, prompts_dir, prompts_git, prompts_git_path)
    if as_json:
        for path, message in library.errors.items():
            print_json({"path": str(path), "error": message})
    else:
        for path, message in library.errors.items():
            out.print(f"[red]✗[/] {path}: {message}", highlight=False, soft_wrap=True)
        folders = ", ".join(str(f) for f in library.folders)
        err.print(
            f"{counted(len(library.prompts), 'prompt')}, "
            f"{counted(len(library.errors), 'broken file')} in {folders}"
        )
    if library.errors:
        raise typer.Exit(1)


@app.command("sync")
def sync(
    data_dir: options.DataDir = None,
    prompts_git: options.PromptsGit = None,
    prompts_git_branch: options.PromptsGitBranch = None,
    prompts_git_path: options.PromptsGitPath = None,
) -> None:
    """Pull --prompts-git into <data folder>/prompts-git now (a running serve picks it up)."""
    from nexus.prompts.config import git_sync_for

    settings = _settings(data_dir, None, prompts_git, prompts_git_branch, prompts_git_path)
    syncer = git_sync_for(settings)
    if syncer is None:
        fail("no repository: give --prompts-git URL (or NEXUS_PROMPTS_GIT)", EXIT_USAGE)
    result = syncer.sync()
    if not result.ok:
        fail(result.message)
    err.print(result.message, highlight=False, soft_wrap=True)


def _get(library: PromptLibrary, name: str) -> Prompt:
    prompt = library.get(name)
    if prompt is None:
        known = ", ".join(library.prompts) or "none"
        fail(f"no prompt named {name!r} (prompts: {known})")
    return prompt
