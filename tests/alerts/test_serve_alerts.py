"""``nexus serve`` end to end: alerts.json is validated at start, and the recorder's detectors
reach the fake Slack and webhook receivers through its own sender."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from nexus.errors import ConfigError
from tests.fakes.alert_receivers import FakeSlack, FakeWebhook
from tests.fakes.upstream import Reply

SECRET = "e2e-signing-secret-0123456789"
CLIENT_KEY = "sk-ant-api03-E2ELEAK-abcdefghijklmnop0123"
BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 32,
    "messages": [{"role": "user", "content": "hi"}],
}


def _write_config(tmp_path: Path, slack: FakeSlack, hook: FakeWebhook) -> Path:
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    path = folder / "alerts.json"
    path.write_bytes(orjson.dumps({
        "destinations": [
            {"name": "slack", "type": "slack", "url": slack.webhook_url},
            {"name": "hook", "type": "webhook", "url": hook.hook_url, "secret": SECRET,
             "kinds": ["upstream_errors"]},
        ],
        "upstream_errors": {"count": 3, "window_s": 60},
        "retry": {"attempts": 3, "first_delay_s": 0.05},
    }))  # fmt: skip
    path.chmod(0o600)
    return path


async def test_an_upstream_error_spike_reaches_slack_and_the_webhook(
    tmp_path: Path, start_nexus: Any, fake_upstream: Any, fake_slack: FakeSlack,
    fake_webhook: FakeWebhook,
) -> None:  # fmt: skip
    _write_config(tmp_path, fake_slack, fake_webhook)
    fake_slack.fail_next(500, "rollup_error")  # the first try fails: the sender retries
    server = await start_nexus()
    fake_upstream.script(*[Reply(status=529)] * 3)
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            answer = await client.post(
                server.endpoints.proxy_url + "/v1/messages", json=BODY,
                headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
            )  # fmt: skip
            assert answer.status_code == 529
    [slack] = await fake_slack.wait_for(1, timeout_s=30)
    [hook] = await fake_webhook.wait_for(1, timeout_s=30)
    assert [r.status for r in fake_slack.received] == [500, 200]
    assert "3 upstream errors in the last 60 s" in slack.json()["text"]
    body = hook.json()
    assert body["kind"] == "upstream_errors" and body["host"].startswith("127.0.0.1:")
    stamp = hook.headers["X-Nexus-Timestamp"]
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + hook.body, hashlib.sha256)
    assert hook.headers["X-Nexus-Signature"] == "v1=" + mac.hexdigest()
    everything = b"".join(r.body for r in fake_slack.received + fake_webhook.received)
    assert b"E2ELEAK" not in everything and SECRET.encode() not in everything


async def test_a_broken_alerts_file_stops_the_start_naming_the_field(
    tmp_path: Path, start_nexus: Any
) -> None:
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "alerts.json").write_text('{"destinations": [{"name": "x", "type": "sms"}]}')
    with pytest.raises(ConfigError, match=r"alerts.json: destinations\[0\].type"):
        await start_nexus()


async def test_a_named_alerts_file_must_exist(tmp_path: Path, start_nexus: Any) -> None:
    with pytest.raises(ConfigError, match="no such alerts configuration file"):
        await start_nexus(alerts_config=tmp_path / "missing.json")


async def test_a_window_crossing_a_threshold_reaches_slack_from_the_recorder(
    tmp_path: Path, start_nexus: Any, fake_upstream: Any, fake_slack: FakeSlack,
    fake_webhook: FakeWebhook,
) -> None:  # fmt: skip
    import time

    _write_config(tmp_path, fake_slack, fake_webhook)
    server = await start_nexus()
    reset = str(int(time.time()) + 3 * 3600)

    def window(used: float) -> Reply:
        return Reply(text="ok", headers=(
            ("anthropic-ratelimit-unified-5h-utilization", str(used)),
            ("anthropic-ratelimit-unified-5h-reset", reset),
        ))  # fmt: skip

    fake_upstream.script(window(0.40), window(0.85))
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            answer = await client.post(server.endpoints.proxy_url + "/v1/messages", json=BODY)
            assert answer.status_code == 200
    # 85 % two hours into the period: past the 80 % threshold, and at 42.5 %/h since the period
    # began it is full in about 21 minutes, before the reset in three hours.
    sent = await fake_slack.wait_for(2, timeout_s=30)
    texts = sorted(r.json()["text"].split(": ", 1)[1] for r in sent)
    host = server.endpoints.proxy_url.removeprefix("http://")
    assert texts == [
        f"the 5h window of host:{host} reached 85%",
        f"the 5h window of host:{host} will be full before it resets",
    ]
    await asyncio.sleep(0.5)
    assert len(fake_slack.received) == 2  # each said once
    assert fake_webhook.received == []  # the webhook takes upstream errors only
