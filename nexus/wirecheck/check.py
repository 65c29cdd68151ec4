"""``nexus doctor --wire``: one run of the installed Claude Code through a private Nexus.

client (``claude -p``) → Tee (keeps the client's bytes) → private Nexus (own tmp data dir, SQLite,
port 0) → FakeApi (keeps what arrived). Afterwards the report says what Nexus saw (CLI version,
paths, betas, classes, links) and what it could not place: a Messages call classed ``other``, a
conversation call left out of every conversation, any byte that changed on the way up, any call
that never got there. Every step is bounded by a timeout; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from nexus.claude_code import SHARED_SYSTEM_LINES
from nexus.conversations.classify import BACKGROUND_CLASSES
from nexus.errors import NexusError
from nexus.records import RequestFilter, RequestSummary, StoredRequest, TrafficClass
from nexus.server import Server
from nexus.settings import Settings
from nexus.wire import system_texts
from nexus.wirecheck.compare import Difference, compare
from nexus.wirecheck.fake_api import FakeApi
from nexus.wirecheck.tee import Tee

PROMPT = "Spawn one sub-agent, then reply with the single word ok."
_DUMMY_KEY = "sk-ant-api03-nexus-wire-check-000000000000000000000000"
_LINK_WAIT_S = 15.0
_REWIND_PREFIX = "branch-"  # the linker's name for a rewind branch (conversations/linker.py)


@dataclass(frozen=True, slots=True)
class Call:
    """One call as Nexus recorded and placed it."""

    id: str
    method: str
    target: str
    model: str | None
    status: int | None
    traffic_class: str | None  # None: the linker never got to it
    conversation_id: str | None
    branch: str | None
    subtask_of: str | None
    betas: tuple[str, ...]
    hint: str  # what the call was about: the start of its system prompt and last user text

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.target.split("?")[0].rstrip("/").endswith(
            "/v1/messages"
        )

    def label(self, number: int) -> str:
        model = f" ({self.model})" if self.model else ""
        return f"#{number} {self.method} {self.target}{model}"


@dataclass(frozen=True, slots=True)
class WireReport:
    cli_path: str
    cli_version: str
    exit_code: int | None  # None: the CLI did not finish within the timeout
    cli_output: str  # the last lines it wrote, when it failed
    duration_s: float
    calls: list[Call]
    differences: list[Difference] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return sorted({f"{c.method} {c.target}" for c in self.calls})

    @property
    def betas(self) -> list[str]:
        return sorted({b for c in self.calls for b in c.betas})

    @property
    def classes(self) -> dict[str, int]:
        return dict(Counter(c.traffic_class or "unlinked" for c in self.calls).most_common())

    @property
    def unclassified(self) -> list[tuple[int, Call]]:
        """Messages calls classed ``other``: a helper this Nexus does not know."""
        return [
            (n, c)
            for n, c in enumerate(self.calls, 1)
            if c.is_messages and c.traffic_class == TrafficClass.OTHER
        ]

    @property
    def unlinked(self) -> list[tuple[int, Call]]:
        """Calls the linker never placed, conversation calls outside every conversation, and
        sub-agent calls not under the call that spawned them."""
        return [
            (n, c)
            for n, c in enumerate(self.calls, 1)
            if c.traffic_class is None
            or (c.traffic_class not in BACKGROUND_CLASSES and c.conversation_id is None)
            or (c.traffic_class == TrafficClass.SUBAGENT and c.subtask_of is None)
        ]

    @property
    def misplaced(self) -> list[tuple[int, Call, str]]:
        """Calls the linker placed where this run cannot have put them: one ``claude -p`` prompt
        is one conversation with no rewind, so a rewind branch or a second conversation is wrong."""
        found = [
            (n, c, f"on {c.branch}, a rewind that never happened")
            for n, c in enumerate(self.calls, 1)
            if c.branch is not None and c.branch.startswith(_REWIND_PREFIX)
        ]
        first = next((c.conversation_id for c in self.calls if c.conversation_id), None)
        found += [
            (n, c, f"in conversation {c.conversation_id}, not {first}")
            for n, c in enumerate(self.calls, 1)
            if c.conversation_id and c.conversation_id != first
        ]
        return found

    @property
    def problems(self) -> list[str]:
        found = []
        if self.exit_code is None:
            found.append(f"the CLI did not finish in time: {self.cli_output}")
        elif self.exit_code != 0:
            found.append(f"the CLI exited with {self.exit_code}: {self.cli_output}")
        if not any(c.is_messages for c in self.calls):
            found.append("no Messages call reached Nexus")
        found += [
            f"not classified: {c.label(n)} is `other` — {c.hint}" for n, c in self.unclassified
        ]
        found += [
            f"not linked: {c.label(n)} ({c.traffic_class or 'never linked'})"
            for n, c in self.unlinked
        ]
        found += [
            f"misplaced: {c.label(n)} ({c.traffic_class}) {why}" for n, c, why in self.misplaced
        ]
        found += [f"changed on the wire: {d.call}: {d.detail}" for d in self.differences]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "cli": {
                "path": self.cli_path,
                "version": self.cli_version,
                "exit_code": self.exit_code,
            },
            "duration_s": round(self.duration_s, 2),
            "paths": self.paths,
            "betas": self.betas,
            "classes": self.classes,
            "calls": [
                {
                    "id": c.id,
                    "method": c.method,
                    "target": c.target,
                    "model": c.model,
                    "status": c.status,
                    "class": c.traffic_class,
                    "conversation_id": c.conversation_id,
                    "branch": c.branch,
                    "subtask_of": c.subtask_of,
                    "betas": list(c.betas),
                }
                for c in self.calls
            ],
            "problems": self.problems,
            "ok": self.ok,
        }


async def run_wire_check(
    claude: Path, *, timeout_s: float = 120.0, prompt: str = PROMPT
) -> WireReport:
    """Run ``claude`` once through a private Nexus against the built-in fake API."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nexus-wire-") as tmp:
        root = Path(tmp)
        api = FakeApi()
        await api.start()
        server = Server(_settings(root, api.url))
        tee: Tee | None = None
        try:
            await server.start()
            assert server.endpoints is not None
            host, port = server.endpoints.proxy_url.removeprefix("http://").rsplit(":", 1)
            tee = Tee((host, int(port)))
            await tee.start()
            version = await _version(claude)
            exit_code, output = await _run_claude(claude, tee.url, root / "home", prompt, timeout_s)
            try:
                await server.flush(timeout_s=30)
            except TimeoutError:
                raise NexusError(
                    "the private Nexus did not store the run within 30 s (see its log above)"
                ) from None
            calls = await _calls(server)
            upstream_host = api.url.removeprefix("http://")
            differences = compare(tee.requests(), api.arrived, upstream_host)
        finally:
            if tee is not None:
                await tee.stop()
            await server.stop()
            await api.stop()
    return WireReport(
        cli_path=str(claude),
        cli_version=version,
        exit_code=exit_code,
        cli_output=output,
        duration_s=time.monotonic() - started,
        calls=calls,
        differences=differences,
    )


def _settings(root: Path, upstream_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{root / 'nexus.db'}",
        data_dir=root / "data",
        credentials_dir=root / "credentials",  # empty: pass-through, the client's key goes up
        proxy_port=0,
        api_port=0,
        upstream_url=upstream_url,
        connect_timeout_s=5.0,
        upstream_timeout_s=60.0,
    )


def claude_env(base_url: str, home: Path) -> dict[str, str]:
    """An offline run: isolated home and config, a dummy key, no telemetry or updates."""
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": _DUMMY_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "TERM": "dumb",
    }


async def _version(claude: Path) -> str:
    code, output = await _run([str(claude), "--version"], env=None, cwd=None, timeout_s=30)
    return output.strip().split(" ")[0] if code == 0 and output.strip() else "unknown"


async def _run_claude(
    claude: Path, base_url: str, home: Path, prompt: str, timeout_s: float
) -> tuple[int | None, str]:
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    args = [str(claude), "-p", prompt, "--output-format", "json"]
    code, output = await _run(args, env=claude_env(base_url, home), cwd=work, timeout_s=timeout_s)
    tail = " / ".join(output.strip().splitlines()[-3:])[-300:]
    return code, "" if code == 0 else tail


async def _run(
    args: list[str], *, env: dict[str, str] | None, cwd: Path | None, timeout_s: float
) -> tuple[int | None, str]:
    """Run a program to its end or the timeout (then kill it); its exit code and its output."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None, f"killed after {timeout_s:.0f} s"
    return proc.returncode, out.decode("utf-8", "replace")


async def _calls(server: Server) -> list[Call]:
    """Every recorded call, oldest first, once the linker has placed them (or the wait ran out)."""
    deadline = time.monotonic() + _LINK_WAIT_S
    while True:
        rows = (await server.store.list_requests(RequestFilter(), None, 1000)).items
        if all(r.traffic_class is not None for r in rows) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    calls = []
    for row in reversed(rows):
        stored = await server.store.get_request(row.id)
        calls.append(_call(row, stored))
    return calls


def _call(row: RequestSummary, stored: StoredRequest | None) -> Call:
    query = stored.query if stored else ""
    headers = stored.request_headers if stored else ()
    betas = tuple(
        b.strip()
        for k, v in headers
        if k.lower() == "anthropic-beta"
        for b in v.split(",")
        if b.strip()
    )
    return Call(
        id=row.id,
        method=row.method,
        target=row.path + (f"?{query}" if query else ""),
        model=row.model,
        status=row.status,
        traffic_class=str(row.traffic_class) if row.traffic_class else None,
        conversation_id=row.conversation_id,
        branch=row.branch,
        subtask_of=row.subtask_of,
        betas=betas,
        hint=_hint(stored.request_body if stored else b"", row.user_preview),
    )


def _hint(body: bytes, user_preview: str) -> str:
    """The start of the system prompt (past the billing line) and of the last user text."""
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        parsed = {}
    system = parsed.get("system") if isinstance(parsed, dict) else None
    texts = system_texts(system)
    if isinstance(system, list):  # past the billing line and the identity line they all share
        texts = [t for t in texts if not t.startswith(SHARED_SYSTEM_LINES)]
    system = " ".join(t for t in texts if t)
    parts = []
    if system.strip():
        parts.append(f'system "{_clip(system, 100)}"')
    if user_preview:
        parts.append(f'user "{_clip(user_preview)}"')
    return ", ".join(parts) or "no system prompt or user text"


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
