"""An upstream outage and its end reach the server log: one line per change of state, rate-limited."""

from __future__ import annotations

import asyncio
import logging

import httpx
from aiohttp import web

from nexus.proxy.upstream_health import UpstreamHealth
from tests.cli.entry import clean_env
from tests.fakes.serve_process import NexusProcess, free_port

BODY = b'{"model":"claude-opus-4-5","messages":[{"role":"user","content":"hi"}]}'


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "nexus.proxy"]


def test_one_line_when_it_goes_down_and_one_when_it_answers_again(caplog):
    now = [100.0]
    health = UpstreamHealth("http://up", clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        health.answered()
        for _ in range(5):
            health.failed("Connection refused")
        now[0] += 30
        health.answered()
        health.answered()
    down, up = lines(caplog)
    assert "http://up is unreachable: Connection refused" in down
    assert "answers again after 30.0 s (5 calls failed meanwhile)" in up


def test_a_flapping_upstream_logs_at_most_one_outage_per_quiet_period(caplog):
    now = [100.0]
    health = UpstreamHealth("http://up", quiet_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        for _ in range(20):  # down and up every second
            health.failed("reset")
            now[0] += 0.5
            health.answered()
            now[0] += 0.5
    logged = lines(caplog)
    assert 2 <= len(logged) <= 6
    assert any("shorter outages since the last line" in line for line in logged)


async def test_the_server_log_says_when_the_upstream_is_down_and_back(tmp_path):
    port = free_port()
    env = clean_env(tmp_path / "home", COLUMNS="250")
    args = ["--data-dir", str(tmp_path / "data"), "--proxy-port", str(free_port())]
    args += ["--api-port", str(free_port()), "--upstream", f"http://127.0.0.1:{port}"]
    server = await NexusProcess(args, env, tmp_path).start()
    upstream = None
    try:
        async with httpx.AsyncClient(base_url=server.proxy_url, timeout=10) as http:
            for _ in range(3):
                refused = await http.post("/v1/messages/count_tokens", content=BODY)
                assert refused.status_code == 502

            async def count(request: web.Request) -> web.Response:
                return web.json_response({"input_tokens": 3})

            app = web.Application()
            app.router.add_post("/v1/messages/count_tokens", count)
            upstream = web.AppRunner(app)
            await upstream.setup()
            await web.TCPSite(upstream, "127.0.0.1", port).start()
            answered = await http.post("/v1/messages/count_tokens", content=BODY)
            assert answered.status_code == 200
        for _ in range(50):
            if any("answers again" in line for line in server.log):
                break
            await asyncio.sleep(0.1)
    finally:
        await server.terminate()
        if upstream is not None:
            await upstream.cleanup()
    log = " ".join(" ".join(server.log).split())  # rich wraps long lines
    assert log.count("is unreachable") == 1
    assert f"upstream http://127.0.0.1:{port} is unreachable" in log
    assert "answers again after" in log and "(3 calls failed meanwhile)" in log
