"""`nexus auth ...` and `nexus claude` through the real typer app, against the fake OAuth server.

Commands that run their own event loop (login, refresh, claude) are invoked on a worker thread so
the fake servers keep running on the test's loop. Every output is checked for the test secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from typer.main import get_command

from nexus.cli import auth as auth_cli
from nexus.cli import claude as claude_cli
from nexus.cli.main import app
from nexus.proxy.credential_files import credential_path
from tests.fakes.oauth import SECRET_MARK, FakeOAuth

HOST = "localhost:3000"
CLIENT_KEY = "cnp_live_existing-client-key-0123456789"
API_KEY = f"sk-ant-api03-{SECRET_MARK}-team-key"


def invoke(*args: str, input: Any = None) -> Result:
    # click's runner (typer's accepts no stream as input; login reads from a pipe)
    return CliRunner().invoke(get_command(app), list(args), input=input, catch_exceptions=False)


async def invoke_in_thread(*args: str, input: Any = None) -> Result:
    return await asyncio.to_thread(invoke, *args, input=input)


def said(result: Result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def assert_no_secrets(result: Result, *allowed: str) -> None:
    text = "".join((result.stdout + result.stderr).split())  # a wrapped secret is still found
    for secret in allowed:
        text = text.replace(secret, "")
    assert SECRET_MARK not in text
    assert CLIENT_KEY not in text
    assert "cnp_live_" not in text


def write(directory: Path, key: str, data: dict[str, Any]) -> Path:
    path = credential_path(directory, key)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


@pytest.fixture
def oauth_env(monkeypatch: pytest.MonkeyPatch, fake_oauth: FakeOAuth) -> FakeOAuth:
    monkeypatch.setenv("NEXUS_OAUTH_TOKEN_URL", fake_oauth.token_url)
    monkeypatch.setenv("NEXUS_OAUTH_AUTHORIZE_URL", fake_oauth.authorize_url)
    return fake_oauth


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[str], str]], Any]]:
    """A fake browser: it opens the URL, and what ``paste`` returns is typed at the prompt."""

    readers: list[Any] = []

    def install(paste: Callable[[str], str]) -> Any:
        read_fd, write_fd = os.pipe()
        opened: list[str] = []

        def open_browser(url: str) -> bool:
            opened.append(url)
            os.write(write_fd, paste(url).encode() + b"\n")
            os.close(write_fd)
            return True

        monkeypatch.setattr(auth_cli, "_open_browser", open_browser)
        readers.append(os.fdopen(read_fd, "rb"))
        return readers[-1], opened

    yield install
    for reader in readers:
        reader.close()


def approve(url: str) -> str:
    """What the user's browser shows after approving: ``code#state``."""
    return httpx.get(url).text


# --- login ----------------------------------------------------------------------------------------


async def test_login_exchanges_the_code_and_writes_the_file_0600_keeping_fields(
    tmp_path: Path, oauth_env: FakeOAuth, browser: Any
) -> None:
    path = write(
        tmp_path,
        HOST,
        {
            "type": "api_key",
            "accountId": "acc_team",
            "client_api_key": CLIENT_KEY,
            "api_key": API_KEY,
        },
    )
    stdin, opened = browser(approve)
    result = await invoke_in_thread(
        "auth", "login", HOST, "--credentials-dir", str(tmp_path), input=stdin
    )
    assert result.exit_code == 0, result.stderr
    assert oauth_env.exchange_count == 1
    assert "code_challenge=" in opened[0] and opened[0] in said(result)
    saved = json.loads(path.read_text())
    assert saved["type"] == "oauth"
    assert saved["accountId"] == "acc_team" and saved["client_api_key"] == CLIENT_KEY
    assert saved["api_key"] == API_KEY
    assert saved["oauth"]["accessToken"].startswith(f"sk-ant-oat01-{SECRET_MARK}")
    assert saved["oauth"]["refreshToken"].startswith(f"sk-ant-ort01-{SECRET_MARK}")
    assert saved["oauth"]["scopes"] == ["user:inference", "user:profile"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert_no_secrets(result)


async def test_login_into_a_new_folder_records_the_account_and_suggests_a_client_key(
    tmp_path: Path, oauth_env: FakeOAuth, browser: Any
) -> None:
    folder = tmp_path / "credentials"
    stdin, _ = browser(approve)
    result = await invoke_in_thread(
        "auth",
        "login",
        "Nexus.Example.com:443",
        "--json",
        "--credentials-dir",
        str(folder),
        input=stdin,
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["host"] == "nexus.example.com" and summary["accountId"] == "dev@example.com"
    assert summary["hasClientKey"] is False
    assert "nexus auth add-client nexus.example.com" in said(result)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(credential_path(folder, "nexus.example.com").stat().st_mode) == 0o600
    assert_no_secrets(result)


async def test_login_with_a_code_from_another_attempt_writes_nothing(
    tmp_path: Path, oauth_env: FakeOAuth, browser: Any
) -> None:
    stdin, _ = browser(lambda url: approve(url).split("#")[0] + "#someone-elses-state")
    result = await invoke_in_thread(
        "auth", "login", HOST, "--credentials-dir", str(tmp_path), input=stdin
    )
    assert result.exit_code == 1
    assert "state mismatch" in said(result)
    assert oauth_env.exchange_count == 0 and list(tmp_path.iterdir()) == []


async def test_login_refused_by_the_token_endpoint_says_why(
    tmp_path: Path, oauth_env: FakeOAuth, browser: Any
) -> None:
    oauth_env.fail_next(description="Invalid authorization code")
    stdin, _ = browser(approve)
    result = await invoke_in_thread(
        "auth", "login", HOST, "--credentials-dir", str(tmp_path), input=stdin
    )
    assert result.exit_code == 1
    assert "invalid_grant" in said(result) and "Invalid authorization code" in said(result)
    assert not credential_path(tmp_path, HOST).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the DISPLAY rule is Linux's")
def test_without_a_display_no_browser_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(webbrowser, "open", lambda url: pytest.fail("a browser was started"))
    assert auth_cli._open_browser("https://example.com") is False


@pytest.mark.parametrize("host", ["../etc", "a/b", "..", "x y", "localhost:3000/../.."])
@pytest.mark.parametrize("command", ["login", "add-client", "refresh"])
def test_hostile_host_names_are_usage_errors(tmp_path: Path, host: str, command: str) -> None:
    inner = tmp_path / "credentials"
    inner.mkdir()
    extra = ["--no-browser"] if command == "login" else []
    result = invoke("auth", command, host, "--credentials-dir", str(inner), *extra)
    assert result.exit_code == 2, result.output
    assert "Invalid Host" in said(result)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["credentials"]


# --- client keys ----------------------------------------------------------------------------------


def test_generate_key_prints_a_fresh_cnp_live_key() -> None:
    first, second = invoke("auth", "generate-key"), invoke("auth", "generate-key")
    assert re.fullmatch(r"cnp_live_[A-Za-z0-9_-]{43}\n", first.stdout)
    assert first.stdout != second.stdout


def test_add_client_sets_a_key_and_shows_it_once(tmp_path: Path) -> None:
    path = write(tmp_path, HOST, {"type": "api_key", "accountId": "acc", "api_key": API_KEY})
    result = invoke("auth", "add-client", HOST, "--credentials-dir", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert re.fullmatch(r"cnp_live_[A-Za-z0-9_-]{43}", key)
    saved = json.loads(path.read_text())
    assert saved == {
        "type": "api_key",
        "accountId": "acc",
        "api_key": API_KEY,
        "client_api_key": key,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key not in said(result) and "ck_" in said(result)
    assert_no_secrets(result, key)

    again = invoke("auth", "add-client", HOST, "--credentials-dir", str(tmp_path))
    assert again.exit_code == 1 and "--replace" in said(again)
    assert json.loads(path.read_text())["client_api_key"] == key
    replaced = invoke("auth", "add-client", HOST, "--replace", "--credentials-dir", str(tmp_path))
    assert replaced.exit_code == 0
    assert json.loads(path.read_text())["client_api_key"] == replaced.stdout.strip() != key


def test_add_client_without_a_credential_file_points_at_login(tmp_path: Path) -> None:
    result = invoke("auth", "add-client", HOST, "--credentials-dir", str(tmp_path))
    assert result.exit_code == 1
    assert f"nexus auth login {HOST}" in said(result)
    # an API-key account has no login: the line says which file to write instead
    assert '{"type": "api_key", "api_key": "sk-ant-…"}' in said(result)
    assert not credential_path(tmp_path, HOST).exists()


# --- status and refresh ---------------------------------------------------------------------------


def test_status_lists_every_file_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        "team.example",
        {
            "type": "api_key",
            "accountId": "acc_api",
            "api_key": API_KEY,
            "client_api_key": CLIENT_KEY,
        },
    )
    write(
        tmp_path,
        HOST,
        {
            "type": "oauth",
            "accountId": "acc_max",
            "oauth": {
                "accessToken": f"sk-ant-oat01-{SECRET_MARK}",
                "refreshToken": f"rt-{SECRET_MARK}",
                "expiresAt": 4_102_444_800_000,
                "scopes": ["user:inference"],
            },
        },
    )
    credential_path(tmp_path, "broken.example").write_text("{not json " + API_KEY)
    credential_path(tmp_path, "broken.example").chmod(0o644)

    as_json = invoke("auth", "status", "--json", "--credentials-dir", str(tmp_path))
    rows = {row["host"]: row for row in json.loads(as_json.stdout)}
    assert set(rows) == {"team.example", HOST, "broken.example"}
    assert rows["team.example"]["type"] == "api_key"
    assert rows["team.example"]["hasClientKey"] is True
    assert rows["team.example"]["clientKeyId"].startswith("ck_")
    assert rows[HOST]["accountId"] == "acc_max" and rows[HOST]["scopes"] == ["user:inference"]
    assert rows[HOST]["expiresAt"] == 4_102_444_800_000 and rows[HOST]["expired"] is False
    assert rows[HOST]["hasClientKey"] is False and rows[HOST]["hasRefreshToken"] is True
    assert "not valid JSON" in rows["broken.example"]["error"]
    assert rows["broken.example"]["looseMode"] is True

    monkeypatch.setenv("COLUMNS", "160")  # rich wraps cells to the terminal width
    table = invoke("auth", "status", "--credentials-dir", str(tmp_path))
    assert table.exit_code == 0 and "acc_max" in table.stdout and "2100-01-01" in table.stdout
    for result in (as_json, table):
        assert_no_secrets(result)


def test_status_of_an_empty_folder_says_pass_through(tmp_path: Path) -> None:
    result = invoke("auth", "status", "--credentials-dir", str(tmp_path))
    assert result.exit_code == 0 and result.stdout == ""
    assert "pass-through" in said(result)
    assert (
        json.loads(invoke("auth", "status", "--json", "--credentials-dir", str(tmp_path)).stdout)
        == []
    )


async def test_refresh_force_renews_the_token(tmp_path: Path, oauth_env: FakeOAuth) -> None:
    path = write(
        tmp_path,
        HOST,
        {
            "type": "oauth",
            "accountId": "acc_max",
            "client_api_key": CLIENT_KEY,
            "oauth": {
                "accessToken": f"sk-ant-oat01-{SECRET_MARK}-old",
                "refreshToken": oauth_env.issue_refresh_token(),
                "expiresAt": 4_102_444_800_000,
            },
        },
    )
    not_due = await invoke_in_thread("auth", "refresh", HOST, "--credentials-dir", str(tmp_path))
    assert not_due.exit_code == 0 and oauth_env.refresh_count == 0
    forced = await invoke_in_thread(
        "auth", "refresh", HOST, "--force", "--json", "--credentials-dir", str(tmp_path)
    )
    assert forced.exit_code == 0, forced.stderr
    assert oauth_env.refresh_count == 1
    saved = json.loads(path.read_text())
    assert saved["oauth"]["accessToken"] != f"sk-ant-oat01-{SECRET_MARK}-old"
    assert json.loads(forced.stdout)["expiresAt"] == saved["oauth"]["expiresAt"]
    assert "acc_max" in said(forced)
    for result in (not_due, forced):
        assert_no_secrets(result)


async def test_refresh_failure_names_account_and_fix(tmp_path: Path, oauth_env: FakeOAuth) -> None:
    write(
        tmp_path,
        HOST,
        {
            "type": "oauth",
            "accountId": "acc_max",
            "oauth": {
                "accessToken": f"sk-ant-oat01-{SECRET_MARK}",
                "refreshToken": f"rt-{SECRET_MARK}",
                "expiresAt": 1,
            },
        },
    )
    result = await invoke_in_thread("auth", "refresh", HOST, "--credentials-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "acc_max" in said(result) and f"nexus auth login {HOST}" in said(result)
    assert_no_secrets(result)


# --- nexus claude ---------------------------------------------------------------------------------

_STUB = """#!{python}
import json, os, sys
with open(os.environ["STUB_OUT"], "w") as out:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ)}}, out)
sys.exit(int(os.environ.get("STUB_EXIT", "0")))
"""


@pytest.fixture
def stub_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, Any]]:
    """A ``claude`` on PATH that records its argv and environment, then exits with STUB_EXIT."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "claude"
    script.write_text(_STUB.format(python=sys.executable))
    script.chmod(0o755)
    out = tmp_path / "claude-saw.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STUB_OUT", str(out))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return lambda: json.loads(out.read_text())


@pytest.fixture
async def health_port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """A stand-in Nexus that answers GET /health, on the port ``nexus claude`` will use."""
    app_ = web.Application()

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app_.router.add_get("/health", health)
    runner = web.AppRunner(app_, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("NEXUS_PROXY_PORT", str(port))
    yield port
    await runner.cleanup()


async def test_claude_runs_with_base_url_and_client_key_in_team_mode(
    tmp_path: Path,
    stub_claude: Callable[[], dict[str, Any]],
    health_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(
        tmp_path,
        f"127.0.0.1:{health_port}",
        {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY},
    )
    monkeypatch.setenv("STUB_EXIT", "7")
    result = await invoke_in_thread(
        "claude", "--credentials-dir", str(tmp_path), "-p", "hello there", "--model", "opus"
    )
    assert result.exit_code == 7
    saw = stub_claude()
    assert saw["argv"] == ["-p", "hello there", "--model", "opus"]
    assert saw["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{health_port}"
    assert saw["env"]["ANTHROPIC_API_KEY"] == CLIENT_KEY
    assert saw["env"]["STUB_OUT"]  # the rest of the environment is passed on
    assert_no_secrets(result)


async def test_claude_uses_the_localhost_file_and_its_base_url(
    tmp_path: Path, stub_claude: Callable[[], dict[str, Any]], health_port: int
) -> None:
    write(
        tmp_path,
        f"localhost:{health_port}",
        {"type": "api_key", "api_key": API_KEY, "client_api_key": CLIENT_KEY},
    )
    result = await invoke_in_thread("claude", "--credentials-dir", str(tmp_path), "--", "--help")
    assert result.exit_code == 0
    saw = stub_claude()
    assert saw["argv"] == ["--help"]
    assert saw["env"]["ANTHROPIC_BASE_URL"] == f"http://localhost:{health_port}"
    assert saw["env"]["ANTHROPIC_API_KEY"] == CLIENT_KEY


async def test_claude_in_pass_through_leaves_the_key_alone(
    tmp_path: Path, stub_claude: Callable[[], dict[str, Any]], health_port: int
) -> None:
    result = await invoke_in_thread("claude", "--credentials-dir", str(tmp_path), "-p", "hi")
    assert result.exit_code == 0
    saw = stub_claude()
    assert saw["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{health_port}"
    assert "ANTHROPIC_API_KEY" not in saw["env"]


async def test_claude_team_mode_without_client_key_explains_the_fix(
    tmp_path: Path, stub_claude: Callable[[], dict[str, Any]], health_port: int
) -> None:
    write(tmp_path, f"127.0.0.1:{health_port}", {"type": "api_key", "api_key": API_KEY})
    result = await invoke_in_thread("claude", "--credentials-dir", str(tmp_path))
    assert result.exit_code == 1 and "nexus auth add-client" in said(result)


_FAKE_SERVE = """
import http.server, os
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
print("fake serve listening", flush=True)
port = int(os.environ["NEXUS_PROXY_PORT"])
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_claude_starts_nexus_serve_when_none_answers(
    tmp_path: Path, stub_claude: Callable[[], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("NEXUS_PROXY_PORT", str(port))
    monkeypatch.setattr(claude_cli, "serve_argv", lambda: [sys.executable, "-c", _FAKE_SERVE])
    started: list[int] = []
    real_start = claude_cli._start_server

    def recording_start(settings: Any) -> int:
        started.append(real_start(settings))
        return started[-1]

    monkeypatch.setattr(claude_cli, "_start_server", recording_start)
    try:
        result = invoke("claude", "--credentials-dir", str(tmp_path), "-p", "hi")
        assert result.exit_code == 0, result.stderr
        assert len(started) == 1
        assert stub_claude()["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
        log = tmp_path / "data" / "nexus" / "serve.log"
        assert "fake serve listening" in log.read_text()
        assert os.getsid(started[0]) != os.getsid(0)  # detached into its own session
    finally:
        for pid in started:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


def test_claude_without_start_reports_an_unreachable_server(
    tmp_path: Path, stub_claude: Callable[[], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_PROXY_PORT", str(free_port()))
    result = invoke("claude", "--no-start", "--credentials-dir", str(tmp_path))
    assert result.exit_code == 3 and "nexus serve" in said(result)


def test_claude_missing_from_path_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke("claude", "--claude-bin", "no-such-claude-binary")
    assert result.exit_code == 1 and "npm install -g @anthropic-ai/claude-code" in said(result)
