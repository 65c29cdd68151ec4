"""Deduplication shared through the store (migration 0010): two senders on one database (two
replicas, or the proxy and the recorder) send an alert once per cool-down."""

from __future__ import annotations

from typing import Any

from nexus.alerts import AlertKind, AlertQueue, make_alert
from nexus.alerts.config import AlertConfig, Destination, Retry
from nexus.alerts.worker import AlertWorker
from tests.fakes.alert_receivers import FakeWebhook

T0 = 1_800_000_000_000
COOL_MS = 600_000


async def test_a_key_is_claimed_once_per_cool_down(store: Any) -> None:
    assert await store.claim_alert("window:acct:5h:80%", T0, COOL_MS)
    assert not await store.claim_alert("window:acct:5h:80%", T0 + 1, COOL_MS)
    assert await store.claim_alert("window:acct:5h:95%", T0 + 1, COOL_MS)  # another key
    assert not await store.claim_alert("window:acct:5h:80%", T0 + COOL_MS - 1, COOL_MS)
    assert await store.claim_alert("window:acct:5h:80%", T0 + COOL_MS, COOL_MS)  # cooled down
    assert not await store.claim_alert("window:acct:5h:80%", T0 + COOL_MS + 5, COOL_MS)


async def test_two_senders_on_one_store_send_a_keyed_alert_once(
    store: Any, fake_webhook: FakeWebhook
) -> None:
    config = AlertConfig(
        destinations=(Destination("hook", "webhook", fake_webhook.hook_url, "s" * 32),),
        retry=Retry(attempts=1),
    )
    replicas = [AlertWorker(AlertQueue(), config, claim=store.claim_alert) for _ in range(2)]
    try:
        for worker in replicas:
            worker.submit(make_alert(AlertKind.WINDOW_FORECAST, "h", "80 %", dedup_key="w:80"))
            worker.submit(make_alert(AlertKind.TURN, "h", "a turn"))  # no key: never deduplicated
        for worker in replicas:
            await worker.wait_idle(10)
    finally:
        for worker in replicas:
            await worker.close()
    messages = sorted(r.json()["message"] for r in fake_webhook.delivered)
    assert messages == ["80 %", "a turn", "a turn"]


async def test_a_failing_claim_sends_anyway(fake_webhook: FakeWebhook) -> None:
    async def broken(key: str, now_ms: int, cooldown_ms: int) -> bool:
        raise ConnectionError("database down")

    config = AlertConfig(
        destinations=(Destination("hook", "webhook", fake_webhook.hook_url, "s" * 32),),
    )
    worker = AlertWorker(AlertQueue(), config, claim=broken)
    try:
        worker.submit(make_alert(AlertKind.HARD_LIMIT, "h", "over", dedup_key="k"))
        await fake_webhook.wait_for(1)
    finally:
        await worker.close()
