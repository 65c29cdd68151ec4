"""The real Claude Code CLI through Nexus with per-turn messages on for its host: one Slack
message per turn with the prompt, the reply, one line per tool call, model, tokens and cost, and
no secret in anything sent (the client's API key, and a key-shaped string typed in the prompt)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.alert_receivers import FakeSlack
from tests.fakes.claude_code import TEST_API_KEY, run_claude
from tests.fakes.upstream import ClaudeCodeResponder

pytestmark = pytest.mark.e2e

TYPED_KEY = "sk-ant-api03-TYPEDINPROMPT-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_each_turn_reaches_slack_without_secrets(
    claude_cli: Path, start_nexus: Any, fake_upstream: Any, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    port = _free_port()
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "alerts.json").write_bytes(orjson.dumps({
        "hosts": {f"127.0.0.1:{port}": {"turns": True, "destinations": [
            {"name": "team", "type": "slack", "url": fake_slack.webhook_url}]}},
    }))  # fmt: skip
    (folder / "alerts.json").chmod(0o600)
    nexus = await start_nexus(proxy_port=port)
    fake_upstream.responder = ClaudeCodeResponder()
    done = await asyncio.to_thread(
        run_claude, claude_cli, nexus.endpoints.proxy_url, f"please run echo {TYPED_KEY}",
        home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [message] = await fake_slack.wait_for(1, timeout_s=60)
    text = message.json()["blocks"][1]["text"]["text"]
    assert "*prompt*: please run echo [redacted]" in text
    assert "*tools*: • Bash: echo [redacted]" in text
    assert "*reply*: Done. The tool said: [redacted]" in text
    assert "*model*: claude-" in text and "*tokens*:" in text and "*cost*: $" in text
    await asyncio.sleep(1)  # no second message: title and other helper calls are not turns
    assert len(fake_slack.delivered) == 1
    sent = b"".join(r.body for r in fake_slack.received)
    assert TYPED_KEY.encode() not in sent and TEST_API_KEY.encode() not in sent
    assert b"TYPEDINPROMPT" not in sent
