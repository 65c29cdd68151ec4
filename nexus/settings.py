"""Settings: the one frozen configuration object, its defaults, and one declaration per setting.

Each ``Declared`` names a setting's environment variable, its command-line flag and its help once:
``Settings.from_env`` reads the variables from it and ``nexus.cli.options`` builds the typer options
from it, so the two cannot drift apart (they once did: ``NEXUS_MAX_BODY_MB`` vs
``NEXUS_MAX_BODY_BYTES``). Only this module and ``nexus.cli`` read ``os.environ``; everything else
receives a ``Settings``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_UPSTREAM_URL = "https://api.anthropic.com"
DEFAULT_OAUTH_TOKEN_URL = "https://console.anthropic.com/v1/oauth/token"
DEFAULT_OAUTH_AUTHORIZE_URL = "https://claude.ai/oauth/authorize"
DEFAULT_GEMINI_MODEL = "gemini-2.5-pro"
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Nexus's data folder under the XDG data dir (``~/.local/share/nexus``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nexus"


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    return "sqlite:///" + str(data_dir(environ) / "nexus.db")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Nexus command needs to know; built once per command, passed down explicitly."""

    database_url: str = field(default_factory=default_database_url)
    proxy_port: int = 3000
    api_port: int = 3001
    host: str = "127.0.0.1"
    upstream_url: str = DEFAULT_UPSTREAM_URL
    credentials_dir: Path = Path("credentials")
    api_key: str | None = None
    data_dir: Path = field(default_factory=data_dir)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    connect_timeout_s: float = 10.0
    upstream_timeout_s: float = 600.0
    store_retry_s: float = 1.0  # first wait before the recorder retries a failed store write
    gemini_api_key: str | None = None
    gemini_model: str = DEFAULT_GEMINI_MODEL
    gemini_url: str | None = None
    oauth_token_url: str = DEFAULT_OAUTH_TOKEN_URL
    oauth_authorize_url: str = DEFAULT_OAUTH_AUTHORIZE_URL
    price_book_path: Path | None = None
    prompts_dir: Path | None = None  # None: <data_dir>/prompts
    prompts_git_url: str | None = None
    prompts_git_branch: str = "main"
    prompts_git_path: str = ""
    prompts_git_interval_s: float = 60.0
    alerts_config: Path | None = None  # None: <credentials_dir>/alerts.json

    @property
    def spool_path(self) -> Path:
        return self.data_dir / "spool.ndjson"

    @property
    def prompts_folder(self) -> Path:
        """The local folder of prompt files (``--prompts-dir``), default ``<data dir>/prompts``."""
        return self.prompts_dir if self.prompts_dir is not None else self.data_dir / "prompts"

    @property
    def prompts_git_checkout(self) -> Path:
        """Where ``--prompts-git`` is checked out: apart from the local folder, so a sync never
        touches local-only files."""
        return self.data_dir / "prompts-git"

    @property
    def alerts_config_path(self) -> Path:
        """The alerts configuration (``--alerts-config``), default ``<credentials>/alerts.json``."""
        if self.alerts_config is not None:
            return self.alerts_config
        return self.credentials_dir / "alerts.json"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by ``database_url`` (``sqlite:///abs/path`` or ``sqlite:///rel``)."""
        return Path(self.database_url.removeprefix("sqlite:///").removeprefix("sqlite://"))

    @property
    def proxy_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.proxy_port}"

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.api_port}"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables (names as in DESIGN.md), then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {"data_dir": data_dir(env)}
        for declared in DECLARED:
            if declared.key in _FIELDS and env.get(declared.env):
                values[declared.key] = declared.parse(env[declared.env])
        values.update({k: v for k, v in overrides.items() if v is not None})
        folder = Path(values["data_dir"])  # type: ignore[arg-type]
        values.setdefault("database_url", "sqlite:///" + str(folder / "nexus.db"))
        return cls(**values)  # type: ignore[arg-type]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting: the ``Settings`` field (or, for a setting only commands use, its name), its
    environment variable, its command-line flag (None: environment only), its help, how a
    variable's text becomes a value, and the default ``--help`` shows."""

    key: str
    env: str
    flag: str | None
    help: str
    parse: Callable[[str], object] = str
    default: str | None = None


DECLARED: tuple[Declared, ...] = (
    Declared(
        "database_url",
        "DATABASE_URL",
        "--db",
        "Database URL: sqlite:///path/nexus.db or postgresql://user@host/db. "
        "Default: sqlite:///<data folder>/nexus.db.",
    ),
    Declared(
        "data_dir",
        "NEXUS_DATA_DIR",
        "--data-dir",
        "Nexus's data folder (spool, serve.log, serve.pid, and the default SQLite database "
        "nexus.db). Default: ~/.local/share/nexus. Give every command the same one.",
        Path,
    ),
    Declared("proxy_port", "NEXUS_PROXY_PORT", "--proxy-port", "Port of the proxy.", int, "3000"),
    Declared("api_port", "NEXUS_API_PORT", "--api-port", "Port of the read API.", int, "3001"),
    Declared("host", "NEXUS_HOST", "--host", "Address to bind both ports to.", str, "127.0.0.1"),
    Declared(
        "upstream_url",
        "NEXUS_UPSTREAM_URL",
        "--upstream",
        "Where calls are forwarded.",
        str,
        DEFAULT_UPSTREAM_URL,
    ),
    Declared(
        "credentials_dir",
        "NEXUS_CREDENTIALS_DIR",
        "--credentials-dir",
        "Folder of <host>.credentials.json files (team mode). Default: ./credentials.",
        Path,
    ),
    Declared(
        "api_key",
        "DASHBOARD_API_KEY",
        "--api-key",
        "Key the read API requires. Unset: the API answers loopback clients only.",
    ),
    Declared(
        "max_body_bytes",
        "NEXUS_MAX_BODY_BYTES",
        "--max-body-bytes",
        "Largest request body the proxy accepts (larger ones get 413).",
        int,
        str(DEFAULT_MAX_BODY_BYTES),
    ),
    Declared("upstream_timeout_s", "NEXUS_UPSTREAM_TIMEOUT", None, "", float),
    Declared("gemini_api_key", "GEMINI_API_KEY", None, ""),
    Declared("gemini_model", "GEMINI_MODEL", None, ""),
    Declared("gemini_url", "NEXUS_GEMINI_URL", None, ""),
    Declared("oauth_token_url", "NEXUS_OAUTH_TOKEN_URL", None, ""),
    Declared("oauth_authorize_url", "NEXUS_OAUTH_AUTHORIZE_URL", None, ""),
    Declared(
        "price_book_path",
        "NEXUS_PRICE_BOOK",
        "--price-book",
        "A JSON price book overlaying the shipped one (format of nexus/usage/prices.json).",
        Path,
    ),
    Declared(
        "prompts_dir",
        "NEXUS_PROMPTS_DIR",
        "--prompts-dir",
        "Folder of prompt files (*.yaml) served over /mcp. Default: <data folder>/prompts.",
        Path,
    ),
    Declared(
        "prompts_git_url",
        "NEXUS_PROMPTS_GIT",
        "--prompts-git",
        "Also serve the prompt files of this git repository (URL or path), pulled "
        "periodically into <data folder>/prompts-git; local files win on a name clash.",
    ),
    Declared(
        "prompts_git_branch",
        "NEXUS_PROMPTS_GIT_BRANCH",
        "--prompts-git-branch",
        "Branch of --prompts-git. Default: main.",
    ),
    Declared(
        "prompts_git_path",
        "NEXUS_PROMPTS_GIT_PATH",
        "--prompts-git-path",
        "Folder inside the --prompts-git repository that holds the prompt files. "
        "Default: its root.",
    ),
    Declared(
        "prompts_git_interval_s",
        "NEXUS_PROMPTS_GIT_INTERVAL",
        "--prompts-git-interval",
        "Seconds between pulls of --prompts-git. Default: 60.",
        float,
    ),
    Declared(
        "alerts_config",
        "NEXUS_ALERTS_CONFIG",
        "--alerts-config",
        "Alerts configuration: Slack and webhook destinations, per host (docs/alerts.md). "
        "Default: <credentials folder>/alerts.json; no file, no alerts sent.",
        Path,
    ),
    # Settings only commands use (not fields of Settings): declared here all the same, so every
    # variable Nexus reads is named in one table.
    Declared(
        "server",
        "NEXUS_SERVER",
        "--server",
        "Read from a Nexus API (e.g. http://team-host:3001) instead of the local database.",
    ),
    Declared(
        "log_level",
        "NEXUS_LOG_LEVEL",
        "--log-level",
        "One of DEBUG, INFO, WARNING, ERROR.",
        str,
        "INFO",
    ),
    Declared(
        "claude_bin", "NEXUS_CLAUDE_BIN", "--claude-bin", "The claude executable.", str, "claude"
    ),
)
SETTINGS: dict[str, Declared] = {d.key: d for d in DECLARED}
_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings))
