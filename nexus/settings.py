"""Settings: the one frozen configuration object, its defaults and its environment-variable twins.

Only this module and ``nexus.cli`` read ``os.environ``; everything else receives a ``Settings``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
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
        for key, name, kind in _ENV_KEYS:
            if env.get(name):
                values[key] = kind(env[name])
        if env.get("DATABASE_URL"):
            values["database_url"] = env["DATABASE_URL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        folder = Path(values["data_dir"])  # type: ignore[arg-type]
        values.setdefault("database_url", "sqlite:///" + str(folder / "nexus.db"))
        return cls(**values)  # type: ignore[arg-type]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


_ENV_KEYS: tuple[tuple[str, str, type], ...] = (
    ("data_dir", "NEXUS_DATA_DIR", Path),
    ("proxy_port", "NEXUS_PROXY_PORT", int),
    ("api_port", "NEXUS_API_PORT", int),
    ("host", "NEXUS_HOST", str),
    ("upstream_url", "NEXUS_UPSTREAM_URL", str),
    ("credentials_dir", "NEXUS_CREDENTIALS_DIR", Path),
    ("api_key", "DASHBOARD_API_KEY", str),
    ("max_body_bytes", "NEXUS_MAX_BODY_BYTES", int),
    ("upstream_timeout_s", "NEXUS_UPSTREAM_TIMEOUT", float),
    ("gemini_api_key", "GEMINI_API_KEY", str),
    ("gemini_model", "GEMINI_MODEL", str),
    ("gemini_url", "NEXUS_GEMINI_URL", str),
    ("oauth_token_url", "NEXUS_OAUTH_TOKEN_URL", str),
    ("oauth_authorize_url", "NEXUS_OAUTH_AUTHORIZE_URL", str),
    ("price_book_path", "NEXUS_PRICE_BOOK", Path),
    ("prompts_dir", "NEXUS_PROMPTS_DIR", Path),
    ("prompts_git_url", "NEXUS_PROMPTS_GIT", str),
    ("prompts_git_branch", "NEXUS_PROMPTS_GIT_BRANCH", str),
    ("prompts_git_path", "NEXUS_PROMPTS_GIT_PATH", str),
    ("prompts_git_interval_s", "NEXUS_PROMPTS_GIT_INTERVAL", float),
)
