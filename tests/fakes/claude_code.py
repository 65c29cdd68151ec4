"""The real Claude Code CLI for end-to-end tests: finds or installs it, and runs it offline.

Two versions are tested: ``PINNED_VERSION`` (the captures in tests/data/claude_code/ were made with
it) and ``@latest`` as npm says today (resolved once a day and cached), so a release that changes
the wire turns the tests red the day it ships. Each version is installed with npm into its own
directory under a cache reused across runs (``NEXUS_TEST_CLAUDE_DIR`` or ``~/.cache/nexus-tests``);
``NEXUS_TEST_CLAUDE_BIN`` names a CLI to use instead of the pinned one. ``claude_cli`` (session
fixture) is the pinned CLI; ``any_claude_cli`` runs a test once per version. Tests skip, saying why,
only when npm is missing or the registry cannot be reached for ``@latest``.
``run_claude`` runs it in print mode against a base URL with an isolated home, so nothing it does
reaches the network or the developer's own configuration.

Past 400 lines: finding the CLI, running it (print mode and interactive, through tmux) and
capturing its traffic (``python -m tests.fakes.claude_code``, with the scrubbing of what is kept)
are three jobs that share the version pins, the isolated environment and the run helpers; eleven
test modules and the captures' README name this module, so a split waits for a reason to touch them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

__all__ = [
    "PINNED_VERSION",
    "SCENARIOS",
    "TEST_API_KEY",
    "CliUnderTest",
    "Keys",
    "any_claude_cli",
    "capture",
    "claude_cli",
    "claude_version",
    "find_or_install_claude",
    "latest_version",
    "run_claude",
    "run_claude_interactive",
    "run_scenario",
]

PACKAGE = "@anthropic-ai/claude-code"
PINNED_VERSION = "2.1.197"
TEST_API_KEY = "sk-ant-api03-nexus-test-key-0000000000000000000000"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def cache_root() -> Path:
    configured = os.environ.get("NEXUS_TEST_CLAUDE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "nexus-tests"


def latest_version(today: datetime.date | None = None) -> tuple[str | None, str]:
    """``@latest`` as the npm registry says today, or None and why it could not be asked. One
    registry call a day: the answer is kept in the cache directory under today's date."""
    day = (today or datetime.date.today()).isoformat()
    cached = cache_root() / f"latest-{day}.txt"
    if cached.exists():
        version = cached.read_text().strip()
        if _VERSION.match(version):
            return version, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed, so @latest cannot be resolved"
    try:
        done = subprocess.run(
            [npm, "view", PACKAGE, "version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "the npm registry did not answer `npm view` within 60 s"
    version = done.stdout.strip()
    if done.returncode != 0 or not _VERSION.match(version):
        tail = (done.stderr or done.stdout).strip().splitlines()[-2:]
        return None, f"the npm registry cannot be reached: {' / '.join(tail)}"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(version + "\n")
    return version, ""


def find_or_install_claude(version: str = PINNED_VERSION) -> tuple[Path | None, str]:
    """The CLI's path for ``version``, or None and the reason it could not be had."""
    configured = os.environ.get("NEXUS_TEST_CLAUDE_BIN")
    if configured and version == PINNED_VERSION:
        return Path(configured), ""
    prefix = cache_root() / f"claude-code-{version}"
    installed = prefix / "node_modules" / ".bin" / "claude"
    if installed.exists():
        return installed, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed, so the Claude Code CLI cannot be installed"
    prefix.mkdir(parents=True, exist_ok=True)
    spec = f"{PACKAGE}@{version}"
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", spec],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"npm install {spec} timed out"
    if done.returncode != 0 or not installed.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, f"npm install {spec} failed: {' / '.join(tail)}"
    return installed, ""


def claude_version(cli: Path) -> str:
    done = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip().split(" ")[0]


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    cli, reason = find_or_install_claude()
    if cli is None:
        pytest.skip(reason)
    return cli


@dataclass(frozen=True, slots=True)
class CliUnderTest:
    path: Path
    version: str
    leg: str  # "pinned" | "latest"


@pytest.fixture(scope="session", params=["pinned", "latest"])
def any_claude_cli(request: pytest.FixtureRequest) -> CliUnderTest:
    """The pinned CLI, then ``@latest``: a test that takes this runs once per version. The latest
    leg skips only when the registry cannot be reached (or names the pinned version again); an
    install that fails once the registry answered is a failure."""
    if request.param == "pinned":
        cli, reason = find_or_install_claude()
        if cli is None:
            pytest.skip(reason)
        return CliUnderTest(cli, PINNED_VERSION, "pinned")
    version, reason = latest_version()
    if version is None:
        pytest.skip(f"@latest leg: {reason}")
    if version == PINNED_VERSION:
        pytest.skip(f"@latest is {version}, the pinned version: nothing more to test")
    cli, reason = find_or_install_claude(version)
    if cli is None:
        pytest.fail(f"@latest is {version} but it could not be installed: {reason}")
    return CliUnderTest(cli, version, "latest")


def claude_env(base_url: str, home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an offline run against ``base_url``, with an isolated home."""
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    result = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": TEST_API_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "TERM": "dumb",
        "IS_SANDBOX": "1",
    }
    if env:
        result.update(env)
    return result


def run_claude(
    cli: Path,
    base_url: str,
    prompt: str,
    *,
    home: Path,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``claude -p PROMPT --output-format json --permission-mode bypassPermissions``.

    The working directory defaults to ``home/work`` so a later ``-c`` (in ``extra_args``) with the
    same home and cwd continues the same session.
    """
    workdir = cwd or home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        str(cli),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--permission-mode",
        "bypassPermissions",
        *extra_args,
    ]
    return subprocess.run(
        args,
        cwd=workdir,
        env=claude_env(base_url, home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Interactive mode under tmux (captures only: it waits by polling the screen and the fake)


@dataclass(frozen=True, slots=True)
class Keys:
    """An interactive step that presses keys (tmux key names: ``Escape``, ``Up``, ``Enter``,
    ``C-u``) instead of typing a prompt; no call is awaited after it."""

    names: tuple[str, ...]
    pause_s: float = 0.6


Step = str | Keys


def run_claude_interactive(
    cli: Path,
    base_url: str,
    prompts: Sequence[Step],
    *,
    home: Path,
    request_count: Callable[[], int],
    settle_s: float = 1.5,
    timeout_s: float = 60,
    env: Mapping[str, str] | None = None,
) -> str:
    """Type each prompt into the TUI, waiting after each until the CLI has made a call and then
    gone quiet for ``settle_s`` (``Keys`` steps are pressed, then a short pause). Returns the last
    screen. Needs tmux; every wait is bounded by ``timeout_s``."""
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    env = claude_env(base_url, home, {"TERM": "xterm-256color", **(env or {})})
    # Skip the onboarding, API-key and trust screens (they would try the real API).
    (Path(env["CLAUDE_CONFIG_DIR"]) / ".claude.json").write_bytes(
        orjson.dumps(
            {
                "hasCompletedOnboarding": True,
                "customApiKeyResponses": {"approved": [TEST_API_KEY[-20:]], "rejected": []},
                "projects": {
                    str(workdir): {
                        "hasTrustDialogAccepted": True,
                        "hasCompletedProjectOnboarding": True,
                    }
                },
            }
        )
    )
    session = f"nexus-capture-{os.getpid()}-{time.monotonic_ns()}"
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    # The classic permission mode: 2.1.332's new default ("auto") stops at a dialog for an Agent
    # call, its safety check being a server-side one that a fake upstream does not offer.
    command = ["timeout", "--foreground", str(int(timeout_s * (len(prompts) + 1))), str(cli),
               "--permission-mode", "default"]  # fmt: skip
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "160",
            "-y",
            "50",
            "-c",
            str(workdir),
            *env_args,
            *command,
        ],
        check=True,
    )
    try:
        _wait_until(lambda: "❯" in _screen(session), timeout_s)
        for step in prompts:
            if isinstance(step, Keys):
                for key in step.names:
                    subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
                    time.sleep(step.pause_s)
                continue
            before = request_count()
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", step], check=True)
            time.sleep(0.3)  # the TUI drops an Enter that arrives with the pasted text
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            _wait_until(partial(_grew, request_count, before), timeout_s)
            _wait_quiet(request_count, settle_s, timeout_s)
        return _screen(session)
    except TimeoutError as error:
        raise TimeoutError(f"{error}; the screen:\n{_screen(session)}") from None
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def _screen(session: str) -> str:
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    )
    return done.stdout


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the Claude Code TUI did not get there in time")
        time.sleep(0.1)


def _grew(count: Callable[[], int], before: int) -> bool:
    return count() > before


def _wait_quiet(count: Callable[[], int], settle_s: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last, since = count(), time.monotonic()
    while time.monotonic() - since < settle_s and time.monotonic() < deadline:
        time.sleep(0.1)
        if count() != last:
            last, since = count(), time.monotonic()


# ---------------------------------------------------------------------------------------------
# Capturing real traffic into tests/data/claude_code/ (python -m tests.fakes.claude_code OUT_DIR)

REDACTED_KEY = "sk-ant-test-redacted"
_SECRET_HEADERS = {"x-api-key", "authorization"}


@dataclass(frozen=True, slots=True)
class Scenario:
    """Print mode: one run per prompt, the later ones with ``later_args`` (``{session}`` is the
    first run's session id). Interactive: the steps typed or pressed in one TUI session."""

    prompts: tuple[Step, ...]
    is_interactive: bool = False
    later_args: tuple[str, ...] = ("-c",)
    env: tuple[tuple[str, str], ...] = ()


# /btw then Esc closes the answer; Esc Esc opens the rewind list, Up Up picks the second message
# from the end, Enter twice restores the conversation before it, C-u clears the restored prompt.
_CLOSE = Keys(("Escape",))
_REWIND = Keys(("Escape", "Escape", "Up", "Up", "Enter", "Enter", "C-u"))
SCENARIOS: dict[str, Scenario] = {
    "simple": Scenario(("say hi to nexus",)),
    "tool_loop": Scenario(("please run echo hello-nexus and tell me what it printed",)),
    "subagent": Scenario(("spawn a sub-agent that runs one command, then answer",)),
    "continue": Scenario(("remember the word pineapple", "what word did I ask you to remember?")),
    "interactive_compact": Scenario(
        (
            "remember the word pineapple",
            "please run echo hello-tui",
            "and now say something else",
            "/compact",
            "what word did I ask you to remember?",
        ),
        is_interactive=True,
    ),
    "fork_subagent": Scenario(("fork a sub-agent to run one command, then answer",)),
    "parallel_subagents": Scenario(("spawn two sub-agents at once, then answer",)),
    "nested_subagents": Scenario(("spawn a nested sub-agent, then answer",)),
    "fork_session": Scenario(
        ("remember the word pineapple", "say something in the fork", "back in the original"),
        later_args=("--resume", "{session}", "--fork-session"),
    ),
    "auto_compact": Scenario(
        ("remember the word pineapple", "please run echo hello-auto", "what word was it?"),
        env=(
            ("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "20000"),
            ("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", "1"),
        ),
    ),
    "interactive_btw": Scenario(
        (
            "remember the word pineapple",
            "please run echo hello-tui",
            "/btw what word was it?",
            _CLOSE,
            "and now say something else",
        ),
        is_interactive=True,
    ),
    "interactive_subagents": Scenario(
        (
            "fork a sub-agent to run one command, then answer",
            "spawn two sub-agents at once, then answer",
            "spawn a nested sub-agent, then answer",
        ),
        is_interactive=True,
    ),
    "interactive_rename": Scenario(("remember the word pineapple", "/rename"), is_interactive=True),
    "interactive_rewind": Scenario(
        (
            "remember the word pineapple",
            "please run echo hello-tui",
            "and now say something else",
            _REWIND,
            "please run echo rewound",
        ),
        is_interactive=True,
    ),
}


def run_scenario(
    cli: Path,
    base_url: str,
    scenario: Scenario,
    *,
    home: Path,
    request_count: Callable[[], int],
    env: Mapping[str, str] | None = None,
) -> list[Any]:
    """Run a scenario against ``base_url``; returns the CLI's JSON results (the TUI: its screen)."""
    all_env = {**dict(scenario.env), **(env or {})}
    if scenario.is_interactive:
        screen = run_claude_interactive(
            cli, base_url, scenario.prompts, home=home, request_count=request_count, env=all_env
        )
        return [{"final_screen": screen.rstrip()}]
    results: list[Any] = []
    session = ""
    for i, prompt in enumerate(scenario.prompts):
        assert isinstance(prompt, str), "print mode takes prompts only"
        args = [a.format(session=session) for a in scenario.later_args] if i else []
        if scenario.later_args[:1] == ("--resume",) and i == 2:
            args = ["--resume", session]  # the third run goes back to the original session
        done = run_claude(cli, base_url, prompt, home=home, extra_args=args, env=all_env)
        if done.returncode != 0:
            raise RuntimeError(f"claude failed: {done.stderr or done.stdout}")
        result = orjson.loads(done.stdout)
        session = session or str(result.get("session_id", ""))
        results.append(result)
    return results


def capture(cli: Path, name: str, scenario: Scenario) -> dict[str, Any]:
    """Run the CLI against a fresh fake upstream and return every exchange it made."""
    from tests.fakes.upstream import ClaudeCodeResponder, FakeUpstream

    # The TUI may still be writing its transcript as it is killed: cleanup errors are harmless.
    with tempfile.TemporaryDirectory(
        prefix=f"nexus-capture-{name}-", ignore_cleanup_errors=True
    ) as tmp:
        home = Path(tmp)
        with FakeUpstream.in_thread(ClaudeCodeResponder(), record_responses=True) as upstream:
            results = run_scenario(
                cli,
                upstream.url,
                scenario,
                home=home,
                request_count=lambda: len(upstream.exchanges),
            )
            time.sleep(1.0)  # background sub-agents and helpers may still be finishing
            exchanges = [_exchange_json(req, resp) for req, resp in upstream.exchanges]
    return {
        "scenario": name,
        "cli_version": claude_version(cli),
        "mode": "interactive" if scenario.is_interactive else "print",
        "prompts": [p if isinstance(p, str) else {"keys": list(p.names)} for p in scenario.prompts],
        "cli_results": results,
        "exchanges": exchanges,
    }


def _exchange_json(request: Any, response: Any) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": [[k, _redact(k, v)] for k, v in request.headers],
        "body": request.body.decode("utf-8"),
        "response": {
            "status": response.status,
            "headers": [[k, v] for k, v in response.headers],
            "body": response.body.decode("utf-8"),
        },
    }


def _redact(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    return "Bearer " + REDACTED_KEY if value.lower().startswith("bearer ") else REDACTED_KEY


_TEMP_DIR = re.compile(r"/tmp/nexus-capture-[\w-]+?-[a-z0-9_]{8}")
_LONG_CHARS = 300


def scrub_body(body: str) -> str:
    """A captured request body made small and anonymous, its structure kept: long system texts,
    ``role: "system"`` messages and ``<system-reminder>`` blocks cut to their start (the same text
    always cuts the same way, so prefixes still match), tool definitions cut to name and a line,
    temp paths made stable. Typed text, tool calls, fork boilerplate and summaries stay whole."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(parsed, dict):
        return body
    if isinstance(parsed.get("system"), list):
        parsed["system"] = [_cut_block(b) for b in parsed["system"]]
    if isinstance(parsed.get("tools"), list):
        parsed["tools"] = [
            {"name": t.get("name"), "description": str(t.get("description", ""))[:120],
             "input_schema": {"type": "object"}}
            if isinstance(t, dict) else t
            for t in parsed["tools"]
        ]  # fmt: skip
    for message in parsed.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if message.get("role") == "system" and isinstance(content, str):
            message["content"] = _cut(content)
        elif isinstance(content, list):
            for block in content:
                if message.get("role") == "system" or _is_reminder(block):
                    _cut_in_place(block)
    return _TEMP_DIR.sub("/tmp/nexus-capture", orjson.dumps(parsed).decode())


def _is_reminder(block: Any) -> bool:
    return isinstance(block, dict) and str(block.get("text", "")).startswith("<system-reminder>")


def _cut(text: str) -> str:
    return text if len(text) <= _LONG_CHARS else text[:_LONG_CHARS] + "…[cut]"


def _cut_block(block: Any) -> Any:
    if isinstance(block, dict) and isinstance(block.get("text"), str):
        return {**block, "text": _cut(block["text"])}
    return block


def _cut_in_place(block: Any) -> None:
    if isinstance(block, dict) and isinstance(block.get("text"), str):
        text = block["text"]
        if text.startswith("<system-reminder>") and len(text) > _LONG_CHARS:
            block["text"] = _cut(text) + "</system-reminder>"
        else:
            block["text"] = _cut(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Capture real Claude Code traffic to JSON files.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--version", default=PINNED_VERSION, help="X.Y.Z or latest")
    parser.add_argument("--scrub", action="store_true", help="small, anonymous bodies")
    args = parser.parse_args(argv)
    version = args.version
    if version == "latest":
        version, reason = latest_version()
        if version is None:
            sys.exit(reason)
    cli, reason = find_or_install_claude(version)
    if cli is None:
        sys.exit(reason)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.scenario or SCENARIOS:
        data = capture(cli, name, SCENARIOS[name])
        if args.scrub:
            for exchange in data["exchanges"]:
                exchange["body"] = scrub_body(exchange["body"])
            data["cli_results"] = [_scrub_result(r) for r in data["cli_results"]]
        path = args.out_dir / f"{name}.json"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"{path}: {len(data['exchanges'])} exchanges, {path.stat().st_size} bytes")


def _scrub_result(result: Any) -> Any:
    if not isinstance(result, dict):
        return result
    keep = ("type", "subtype", "is_error", "result", "session_id", "num_turns", "final_screen")
    return {k: result[k] for k in keep if k in result}


if __name__ == "__main__":
    main(sys.argv[1:])
