"""The sender against fake Slack and webhook receivers on real sockets: wire formats, signature,
retries after failures, deduplication, and no secret in anything sent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from pathlib import Path

import orjson
import pytest

from nexus.alerts import AlertKind, AlertQueue, make_alert
from nexus.alerts.config import AlertConfig, Destination, HostAlerts, Retry
from nexus.alerts.worker import AlertWorker, Delivery
from nexus.redact import remember_secrets
from tests.fakes.alert_receivers import FakeSlack, FakeWebhook

SECRET = "whsec-test-0123456789abcdef"
API_KEY = "sk-ant-api03-LEAKME-0123456789abcdefghij"
CLIENT_KEY = "cnp_live_LEAKME0123456789abcdef"
OAUTH_TOKEN = "oat-LEAKME-known-secret-value-42"


def _config(slack: FakeSlack, hook: FakeWebhook, **changes: object) -> AlertConfig:
    base = AlertConfig(
        destinations=(
            Destination("team-slack", "slack", slack.webhook_url),
            Destination("ops-hook", "webhook", hook.hook_url, SECRET),
        ),
        retry=Retry(attempts=4, first_delay_s=0.01, max_delay_s=0.05, timeout_s=5),
    )
    return AlertConfig(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def _signature_ok(body: bytes, headers: dict[str, str]) -> bool:
    """Checked here with hmac directly, not with nexus.alerts.signing."""
    stamp = headers["X-Nexus-Timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return headers["X-Nexus-Signature"] == "v1=" + expected


async def test_an_alert_reaches_slack_and_a_signed_webhook(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    worker = AlertWorker(AlertQueue(), _config(fake_slack, fake_webhook))
    alert = make_alert(
        AlertKind.HARD_LIMIT, "team.example", "alice is over 60 requests per minute",
        subject="alice", fields={"limit": "requests per minute", "resets": "12:04 UTC"},
    )  # fmt: skip
    try:
        results = await worker.send(alert)
    finally:
        await worker.close()
    assert [(r.is_sent, r.attempts) for r in results] == [(True, 1), (True, 1)]
    [slack] = fake_slack.delivered
    message = slack.json()
    assert "alice is over 60 requests per minute" in message["text"]
    assert message["blocks"][0]["type"] == "section"
    [hook] = fake_webhook.delivered
    assert _signature_ok(hook.body, hook.headers)
    assert abs(int(hook.headers["X-Nexus-Timestamp"]) - time.time()) < 60
    assert hook.headers["Content-Type"] == "application/json"
    body = hook.json()
    assert body["schema"] == 1
    assert body["kind"] == "hard_limit" and body["severity"] == "critical"
    assert body["host"] == "team.example" and body["subject"] == "alice"
    assert body["fields"] == [
        {"name": "limit", "value": "requests per minute"},
        {"name": "resets", "value": "12:04 UTC"},
    ]
    assert body["id"] == alert.id == hook.headers["X-Nexus-Alert-Id"]


async def test_a_tampered_body_fails_the_signature_check(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    worker = AlertWorker(AlertQueue(), _config(fake_slack, fake_webhook))
    try:
        await worker.send(make_alert(AlertKind.RUNAWAY, "h", "loop"))
    finally:
        await worker.close()
    [hook] = fake_webhook.delivered
    assert _signature_ok(hook.body, hook.headers)
    assert not _signature_ok(hook.body.replace(b"loop", b"LOOP"), hook.headers)


async def test_a_500_is_retried_with_backoff_until_it_arrives(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    fake_slack.fail_next(500, "rollup_error", times=2)
    fake_webhook.fail_next(503, "busy")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    worker = AlertWorker(AlertQueue(), _config(fake_slack, fake_webhook), sleep=sleep)
    try:
        results = await worker.send(make_alert(AlertKind.UPSTREAM_ERRORS, "h", "5 errors"))
    finally:
        await worker.close()
    assert {r.destination.split()[0]: (r.is_sent, r.attempts) for r in results} == {
        "team-slack": (True, 3),
        "ops-hook": (True, 2),
    }
    assert [r.status for r in fake_slack.received] == [500, 500, 200]
    assert [r.status for r in fake_webhook.received] == [503, 200]
    assert sorted(waits) == [0.01, 0.01, 0.02]  # 1×, then 2× the first delay
    hooks = fake_webhook.received  # the retry is signed afresh
    assert all(_signature_ok(r.body, r.headers) for r in hooks)


async def test_retries_are_bounded_and_a_wrong_url_is_not_retried(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    fake_webhook.fail_next(500, "down", times=10)
    config = _config(fake_slack, fake_webhook)
    wrong = Destination("wrong-slack", "slack", fake_slack.url + "/services/T/B/nope")
    config = _config(fake_slack, fake_webhook, destinations=(config.destinations[1], wrong))
    worker = AlertWorker(AlertQueue(), config)
    try:
        results = await worker.send(make_alert(AlertKind.SOFT_LIMIT, "h", "80 %"))
    finally:
        await worker.close()
    by_name = {r.destination.split()[0]: r for r in results}
    assert (by_name["ops-hook"].is_sent, by_name["ops-hook"].attempts) == (False, 4)
    assert by_name["ops-hook"].error == "HTTP 500: down"
    assert (by_name["wrong-slack"].is_sent, by_name["wrong-slack"].attempts) == (False, 1)
    assert by_name["wrong-slack"].error == "HTTP 404: no_service"


async def test_slack_rate_limit_waits_for_its_retry_after(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    fake_slack.fail_next(429, "rate_limited", retry_after=0.04)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    config = _config(fake_slack, fake_webhook)
    config = _config(fake_slack, fake_webhook, destinations=config.destinations[:1])
    worker = AlertWorker(AlertQueue(), config, sleep=sleep)
    try:
        [result] = await worker.send(make_alert(AlertKind.SOFT_LIMIT, "h", "80 %"))
    finally:
        await worker.close()
    assert result.is_sent and result.attempts == 2
    assert waits == [pytest.approx(0.04)]


async def test_the_worker_drains_the_queue_routes_per_host_and_drops_repeats(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    base = _config(fake_slack, fake_webhook)
    config = _config(
        fake_slack, fake_webhook,
        destinations=(base.destinations[0],),  # global: Slack
        hosts={"team.example": HostAlerts(destinations=(base.destinations[1],), use_global=False)},
    )  # fmt: skip
    queue = AlertQueue()
    done: list[Delivery] = []
    worker = AlertWorker(queue, config, on_delivery=done.append)
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop))
    for _ in range(3):  # the same limit three times: one alert per cool-down
        queue.notify(make_alert(AlertKind.HARD_LIMIT, "TEAM.example", "x", dedup_key="rpm:alice"))
    queue.notify(make_alert(AlertKind.HARD_LIMIT, "other.example", "y", dedup_key="rpm:bob"))
    await fake_webhook.wait_for(1)
    await fake_slack.wait_for(1)
    stop.set()
    await asyncio.wait_for(running, 10)
    assert [r.json()["message"] for r in fake_webhook.delivered] == ["x"]
    assert ["y" in r.json()["text"] for r in fake_slack.delivered] == [True]
    assert len(done) == 2


async def test_nothing_sent_carries_a_secret(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook, tmp_path: Path
) -> None:
    remember_secrets(OAUTH_TOKEN)  # as the proxy does for the credential files' tokens
    worker = AlertWorker(AlertQueue(), _config(fake_slack, fake_webhook))
    leaky = make_alert(
        AlertKind.TURN, f"h{API_KEY}", f"prompt: use {API_KEY} and Bearer {OAUTH_TOKEN}",
        subject=CLIENT_KEY, fields={"reply": f"your key is {CLIENT_KEY}", API_KEY: OAUTH_TOKEN},
    )  # fmt: skip
    try:
        await worker.send(leaky)
    finally:
        await worker.close()
    sent = b"".join(
        r.body + orjson.dumps(r.headers) for r in fake_slack.received + fake_webhook.received
    )
    assert len(fake_slack.received) == len(fake_webhook.received) == 1
    for secret in (API_KEY, CLIENT_KEY, OAUTH_TOKEN, "LEAKME", SECRET):
        assert secret.encode() not in sent
    assert b"[redacted]" in sent


async def test_a_channel_that_raises_something_unexpected_is_a_failed_delivery(
    fake_slack: FakeSlack, fake_webhook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexus.alerts import channels

    async def broken(self: object, alert: object) -> None:
        raise ValueError("a bug in a channel")

    monkeypatch.setattr(channels.WebhookChannel, "deliver", broken)
    worker = AlertWorker(AlertQueue(), _config(fake_slack, fake_webhook))
    try:
        results = await worker.send(make_alert(AlertKind.RUNAWAY, "h", "loop"))
    finally:
        await worker.close()
    by_name = {r.destination.split()[0]: r for r in results}
    assert by_name["team-slack"].is_sent  # the other destination is not affected
    assert not by_name["ops-hook"].is_sent and by_name["ops-hook"].error == "ValueError"
