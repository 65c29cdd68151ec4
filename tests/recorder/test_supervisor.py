"""The recorder process as ``nexus serve`` runs it: a child that stores what the proxy spools,
wakes on the proxy's signal, survives being killed (restarted, nothing lost or doubled), ignores
the terminal's Ctrl-C, and on stop stores the spool to the end before it exits."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3

import httpx
import pytest

from nexus.aio import TaskSet
from nexus.recorder.protocol import RecorderConfig
from nexus.recorder.spool import Spool
from nexus.recorder.supervisor import RecorderSupervisor
from nexus.recorder.tap import Tap
from nexus.store import build_store
from tests.factories import make_record


@pytest.fixture
async def rig(tmp_path):
    db = tmp_path / "nexus.db"
    store = build_store(f"sqlite:///{db}")
    await store.open()  # migrations, as Server.start does before the recorder starts
    await store.close()
    spool = Spool(tmp_path / "spool" / "3000")
    reports: list[int] = []
    recorder = RecorderSupervisor(
        spool,
        RecorderConfig(spool=spool.directory, database_url=f"sqlite:///{db}"),
        on_report=lambda: reports.append(1),
        restart_s=0.1,
    )
    tap = Tap(spool, recorder.poke)
    tasks = TaskSet()
    tasks.spawn(recorder.run(), name="recorder")
    yield recorder, spool, tap, db, reports
    if spool._fd is not None:
        spool.close()
    await recorder.stop(10)
    await tasks.wait(5)
    await tasks.close()


def put(tap: Tap, n: int) -> list[str]:
    ids = []
    for i in range(n):
        exchange = make_record(user_text=f"turn {i}").exchange
        tap.put_nowait(exchange)
        ids.append(exchange.id)
    return ids


def stored(db) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM requests ORDER BY id")]


async def test_appended_records_are_stored_by_the_child_and_reported(rig):
    recorder, spool, tap, db, reports = rig
    ids = put(tap, 5)
    await recorder.caught_up(spool.position(), 20)
    assert stored(db) == sorted(ids)
    assert recorder.pid != os.getpid() and recorder.starts == 1
    assert reports, "the live feed is woken by the recorder's reports"
    later = put(tap, 3)  # it went idle: the tap's poke wakes it (its own poll is 0.5 s)
    await recorder.caught_up(spool.position(), 5)
    assert stored(db) == sorted(ids + later)


async def test_a_killed_recorder_is_restarted_and_nothing_is_lost_or_doubled(rig):
    recorder, spool, tap, db, _ = rig
    first = put(tap, 10)
    await recorder.caught_up(spool.position(), 20)
    os.kill(recorder.pid, signal.SIGKILL)
    during = put(tap, 10)  # appended while it is dead or restarting
    await recorder.caught_up(spool.position(), 30)
    assert recorder.starts == 2
    assert stored(db) == sorted(first + during)


async def test_ctrl_c_in_the_terminal_does_not_stop_the_recorder(rig):
    recorder, spool, tap, db, _ = rig
    await recorder.caught_up(spool.position(), 20)
    os.kill(recorder.pid, signal.SIGINT)
    ids = put(tap, 2)
    await recorder.caught_up(spool.position(), 10)
    assert recorder.starts == 1 and stored(db) == sorted(ids)


async def test_stop_stores_the_whole_spool_then_the_child_exits(rig):
    recorder, spool, tap, db, _ = rig
    await recorder.caught_up(spool.position(), 20)
    os.kill(recorder.pid, signal.SIGSTOP)  # a busy recorder: a backlog builds up
    ids = put(tap, 40)
    os.kill(recorder.pid, signal.SIGCONT)
    spool.close()
    pid = recorder.pid
    await recorder.stop(20)
    assert stored(db) == sorted(ids)
    assert not list(spool.directory.glob("*.spool"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_the_live_feed_hears_of_a_proxied_call_long_before_its_poll(nexus):
    """The recorder stores in another process; its report wakes this process's feed. Without the
    wake-up the feed would only see the record at its next poll, 2 s after it connected."""
    from nexus.client import NexusClient

    async with NexusClient(nexus.endpoints.api_url) as client, httpx.AsyncClient() as http:
        feed = client.events()  # from now on
        first = asyncio.ensure_future(anext(feed))
        await asyncio.sleep(0.2)  # connected
        sent = asyncio.get_running_loop().time()
        response = await http.post(
            nexus.endpoints.proxy_url + "/v1/messages",
            json={"model": "claude-opus-4-8", "max_tokens": 10, "messages": []},
        )
        event = await asyncio.wait_for(first, 10)
        waited = asyncio.get_running_loop().time() - sent
        await feed.aclose()
    assert event.kind == "request" and event.ref_id == response.headers["x-nexus-request-id"]
    assert waited < 1.0, f"the feed heard of it after {waited:.2f} s"


async def test_the_recorder_runs_under_sched_batch(rig):
    """Fair share beside busy processes, without preempting the proxy (docs/recorder.md)."""
    recorder, spool, tap, db, _ = rig
    put(tap, 1)
    await recorder.caught_up(spool.position(), 20)
    assert os.sched_getscheduler(recorder.pid) == os.SCHED_BATCH
    assert os.getpriority(os.PRIO_PROCESS, recorder.pid) == os.getpriority(os.PRIO_PROCESS, 0)
