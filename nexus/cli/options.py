"""Options shared by several commands. A setting's option is built from its one declaration in
``nexus.settings.DECLARED`` (flag, environment variable, help), never spelled here again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nexus.settings import SETTINGS, Settings


def option(key: str, *flags: str, help: str | None = None, **extra: Any) -> Any:
    """The typer option of the declared setting ``key``: its flag, variable and help (a command
    may word the help for its own use, or name the flag its own way)."""
    declared = SETTINGS[key]
    names = flags or ([declared.flag] if declared.flag else [])
    return typer.Option(
        *names,
        envvar=declared.env,
        help=help or declared.help,
        show_default=declared.default or False,
        **extra,
    )


Db = Annotated[str | None, option("database_url")]  # noqa: UP007 - typer needs Optional on 3.11
DataDir = Annotated[Path | None, option("data_dir")]  # noqa: UP007
CredentialsDir = Annotated[Path | None, option("credentials_dir")]  # noqa: UP007
ProxyPort = Annotated[int | None, option("proxy_port")]  # noqa: UP007
PromptsDir = Annotated[Path | None, option("prompts_dir")]  # noqa: UP007
PromptsGit = Annotated[str | None, option("prompts_git_url")]  # noqa: UP007
PromptsGitBranch = Annotated[str | None, option("prompts_git_branch")]  # noqa: UP007
PromptsGitPath = Annotated[str | None, option("prompts_git_path")]  # noqa: UP007
PromptsGitInterval = Annotated[float | None, option("prompts_git_interval_s", min=1)]  # noqa: UP007
AlertsConfig = Annotated[Path | None, option("alerts_config")]  # noqa: UP007
PriceBook = Annotated[Path | None, option("price_book_path")]  # noqa: UP007
Server = Annotated[str | None, option("server")]  # noqa: UP007
# The key a client sends to a read API shares the variable of the key `nexus serve` requires.
ApiKey = Annotated[
    str | None,  # noqa: UP007
    option("api_key", "--key", help="API key for --server (sent as Authorization: Bearer)."),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print JSON (one object per line) instead of a table.")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def settings(**overrides: object) -> Settings:
    """Settings from the environment plus the options a command was given (None = not given)."""
    mapping = {"db": "database_url"}
    return Settings.from_env(None, **{mapping.get(k, k): v for k, v in overrides.items()})
