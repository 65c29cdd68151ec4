"""The spool under storage faults, through a real ``nexus serve`` (issue 14, items 4 and 5): a disk
that fills up mid-write and frees up again loses only the calls it could not take (no torn frame
hides the ones after), and a segment that cannot be created costs the records of that moment, never
the process (a stale descriptor closed after its number went to a client's socket: SIGABRT)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from nexus.recorder.spool import segment_numbers, segment_path
from tests.recorder.test_poison import BODY, assert_recorder_never_restarted, normal_calls, stored

pytestmark = pytest.mark.slow


def spool_folder(data: Path) -> Path:
    [folder] = [p for p in (data / "spool").iterdir() if p.is_dir()]
    return folder


async def call(url: str, text: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:  # a new connection: a new descriptor
        body = {**BODY, "messages": [{"role": "user", "content": text}]}
        return await client.post(url + "/v1/messages", content=orjson.dumps(body))


async def test_a_write_cut_short_by_a_full_disk_hides_no_later_record(
    nexus_process: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'nexus.db'}"
    nexus = await nexus_process(url)
    assert nexus.proc is not None
    async with httpx.AsyncClient(timeout=30) as client:
        before = await normal_calls(client, nexus.proxy_url, 3)
    assert set(await stored(url, before, timeout_s=10)) == set(before)
    folder = spool_folder(tmp_path / "data")
    segment = segment_path(folder, segment_numbers(folder)[-1])
    # The disk is full 2 KB further on: the next frame (20 KB) is written only in part.
    limit = segment.stat().st_size + 2000
    resource.prlimit(nexus.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        lost = await call(nexus.proxy_url, "x" * 20_000)
        assert lost.status_code == 200  # the call is served; its record could not be spooled
    finally:  # the disk frees up
        resource.prlimit(nexus.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    async with httpx.AsyncClient(timeout=30) as client:
        after = await normal_calls(client, nexus.proxy_url, 5)
    got = await stored(url, after, timeout_s=5)
    assert set(got) == set(after), "records appended after a torn frame were not stored"
    assert "cannot be written" in "".join(nexus.log)  # the lost call is said, once
    assert await nexus.terminate() == 0
    assert set(await stored(url, before + after, timeout_s=0)) == set(before + after)


async def test_a_segment_that_cannot_be_created_costs_records_not_the_process(
    nexus_process: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'nexus.db'}"
    nexus = await nexus_process(url)
    assert nexus.proc is not None
    folder = spool_folder(tmp_path / "data")

    def newest() -> Path:
        return segment_path(folder, segment_numbers(folder)[-1])

    while newest().stat().st_size < 8 * 1024 * 1024:  # past its size: the next append rolls over
        assert (await call(nexus.proxy_url, "y" * 3_000_000)).status_code == 200
    blocked = segment_path(folder, segment_numbers(folder)[-1] + 1)
    blocked.symlink_to(tmp_path / "no-such-folder" / "segment")  # it cannot be created
    try:
        for i in range(20):  # new connections take the descriptor numbers that were freed
            response = await call(nexus.proxy_url, f"while blocked {i}")
            assert response.status_code == 200
        assert nexus.proc.returncode is None, "".join(nexus.log)[-3000:]
    finally:
        blocked.unlink()
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(timeout=30) as client:
        after = await normal_calls(client, nexus.proxy_url, 3)
    assert set(await stored(url, after, timeout_s=10)) == set(after)
    log = "".join(nexus.log)
    assert log.count("cannot be written") == 1, log[-3000:]  # one line, not one per call
    assert_recorder_never_restarted(nexus.log)
    assert nexus.proc.returncode is None
