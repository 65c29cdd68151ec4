"""Options shared by several commands, each with its environment-variable twin (DESIGN.md §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nexus.settings import Settings

Db = Annotated[
    str | None,  # noqa: UP007 - typer needs Optional on 3.11
    typer.Option(
        "--db",
        envvar="DATABASE_URL",
        help="Database URL: sqlite:///path/nexus.db or postgresql://user@host/db. "
        "Default: sqlite:///<data folder>/nexus.db.",
        show_default=False,
    ),
]
DataDir = Annotated[
    Path | None,  # noqa: UP007
    typer.Option(
        "--data-dir",
        envvar="NEXUS_DATA_DIR",
        help="Nexus's data folder (spool, serve.log, serve.pid, and the default SQLite database "
        "nexus.db). Default: ~/.local/share/nexus. Give every command the same one.",
        show_default=False,
    ),
]
CredentialsDir = Annotated[
    Path | None,  # noqa: UP007
    typer.Option(
        "--credentials-dir",
        envvar="NEXUS_CREDENTIALS_DIR",
        help="Folder of <host>.credentials.json files (team mode). Default: ./credentials.",
        show_default=False,
    ),
]
PromptsDir = Annotated[
    Path | None,  # noqa: UP007
    typer.Option(
        "--prompts-dir",
        envvar="NEXUS_PROMPTS_DIR",
        help="Folder of prompt files (*.yaml) served over /mcp. Default: <data folder>/prompts.",
        show_default=False,
    ),
]
PromptsGit = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--prompts-git",
        envvar="NEXUS_PROMPTS_GIT",
        help="Also serve the prompt files of this git repository (URL or path), pulled "
        "periodically into <data folder>/prompts-git; local files win on a name clash.",
        show_default=False,
    ),
]
PromptsGitBranch = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--prompts-git-branch",
        envvar="NEXUS_PROMPTS_GIT_BRANCH",
        help="Branch of --prompts-git. Default: main.",
        show_default=False,
    ),
]
PromptsGitPath = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--prompts-git-path",
        envvar="NEXUS_PROMPTS_GIT_PATH",
        help="Folder inside the --prompts-git repository that holds the prompt files. "
        "Default: its root.",
        show_default=False,
    ),
]
PromptsGitInterval = Annotated[
    float | None,  # noqa: UP007
    typer.Option(
        "--prompts-git-interval",
        envvar="NEXUS_PROMPTS_GIT_INTERVAL",
        help="Seconds between pulls of --prompts-git. Default: 60.",
        show_default=False,
        min=1,
    ),
]
Server = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--server",
        envvar="NEXUS_SERVER",
        help="Read from a Nexus API (e.g. http://team-host:3001) instead of the local database.",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--key",
        envvar="DASHBOARD_API_KEY",
        help="API key for --server (sent as Authorization: Bearer).",
        show_default=False,
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print JSON (one object per line) instead of a table.")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def settings(**overrides: object) -> Settings:
    """Settings from the environment plus the options a command was given (None = not given)."""
    mapping = {"db": "database_url"}
    return Settings.from_env(None, **{mapping.get(k, k): v for k, v in overrides.items()})
