"""While `nexus serve` runs, the segment it appends to is its live segment, not a backlog: `doctor`
and `db stats` (other processes) say so, and count only what really waits."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from tests.cli.entry import clean_env, run_nexus
from tests.fakes.serve_process import NexusProcess, free_port


async def test_doctor_and_db_stats_tell_the_live_segment_from_a_backlog(tmp_path, fake_upstream):
    data = tmp_path / "data"
    env = clean_env(tmp_path / "home", COLUMNS="250")
    args = ["--data-dir", str(data), "--proxy-port", str(free_port())]
    args += ["--api-port", str(free_port()), "--upstream", fake_upstream.url]
    server = await NexusProcess(args, env, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.proxy_url, timeout=10) as http:
            body = b'{"model":"claude-opus-4-5","messages":[{"role":"user","content":"hi"}]}'
            assert (await http.post("/v1/messages/count_tokens", content=body)).status_code == 200
        flag = ["--data-dir", str(data)]
        doctor = await asyncio.to_thread(run_nexus, "doctor", *flag, "--json", env=env)
        (spool,) = [
            c for c in map(orjson.loads, doctor.stdout.splitlines()) if c["name"] == "spool"
        ]
        assert spool["state"] == "ok", spool
        assert "live segment of the running server: 1 file" in spool["detail"]
        assert "no backlog" in spool["detail"]
        stats = await asyncio.to_thread(run_nexus, "db", "stats", *flag, "--json", env=env)
        data_ = orjson.loads(stats.stdout)
        assert (data_["spool_files"], data_["spool_live_files"]) == (0, 1)
        human = await asyncio.to_thread(run_nexus, "db", "stats", *flag, env=env)
        assert (
            "spool backlog   0 files" in human.stdout and "live segment    1 file," in human.stdout
        )
    finally:
        assert await server.terminate() == 0
