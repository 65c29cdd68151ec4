from __future__ import annotations

import asyncio
import threading

from nexus.alerts import NO_ALERTS, Alert, AlertKind, AlertQueue, Severity, make_alert


def _alert(n: int = 0) -> Alert:
    return make_alert(AlertKind.HARD_LIMIT, "team.example", f"alert {n}", subject="alice")


def test_make_alert_takes_its_kinds_severity_and_turns_fields_into_text() -> None:
    alert = make_alert(AlertKind.TURN, "h", "m", fields={"tokens": 12, "model": "opus"})
    assert alert.severity is Severity.INFO
    assert alert.fields == (("tokens", "12"), ("model", "opus"))
    assert make_alert(AlertKind.RUNAWAY, "h", "m").severity is Severity.CRITICAL


def test_a_full_queue_drops_the_oldest_and_counts_it_without_blocking() -> None:
    queue = AlertQueue(capacity=3)
    for n in range(5):
        queue.notify(_alert(n))
    assert queue.dropped == 2
    assert [a.message for a in queue.drain()] == ["alert 2", "alert 3", "alert 4"]
    assert len(queue) == 0


async def test_get_wakes_on_notify_from_the_loop_and_from_another_thread() -> None:
    queue = AlertQueue()
    waiting = asyncio.ensure_future(queue.get(timeout_s=5))
    await asyncio.sleep(0)
    queue.notify(_alert(1))
    assert [a.message for a in await waiting] == ["alert 1"]

    waiting = asyncio.ensure_future(queue.get(timeout_s=5))
    await asyncio.sleep(0)
    thread = threading.Thread(target=queue.notify, args=(_alert(2),))
    thread.start()
    thread.join()
    assert [a.message for a in await waiting] == ["alert 2"]


async def test_get_returns_nothing_after_its_timeout() -> None:
    assert await AlertQueue().get(timeout_s=0.01) == []


def test_the_null_sink_takes_alerts_and_does_nothing() -> None:
    NO_ALERTS.notify(_alert())
