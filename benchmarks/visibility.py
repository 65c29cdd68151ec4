"""How soon a call answered by Nexus is visible in its read API: the time from the answer's last
byte to its ``request`` event on the live feed (``GET /api/events``, what the TUI's live tail
reads), at a paced rate, optionally with CPU-bound processes at normal priority beside it (a build).

Used by proxy_overhead.py ``--visibility RATE[:HOGS] ...`` (issue 18: at 100 req/s the newest record
is visible within 500 ms at p99; at 10 req/s beside two hogs, within 5 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import orjson
from bodies import Session


@dataclass
class Visibility:
    rate: float
    hogs: int
    sent: int = 0
    answered: dict[str, float] = field(default_factory=dict)  # id → perf_counter at last byte
    seen: dict[str, float] = field(default_factory=dict)  # id → perf_counter of its event
    wall_s: float = 0.0

    def lags_ms(self) -> list[float]:
        return sorted((self.seen[i] - t) * 1000 for i, t in self.answered.items() if i in self.seen)

    def missing(self) -> int:
        return len(set(self.answered) - set(self.seen))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[max(0, min(len(values) - 1, int(round(q / 100 * len(values) + 0.5)) - 1))]


async def _follow(api_url: str, result: Visibility, ready: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(api_url + "/api/events") as resp:
            event = ""
            async for raw in resp.content:
                line = raw.rstrip(b"\r\n")
                if line.startswith(b"event:"):
                    event = line[6:].strip().decode()
                    if event == "connected":
                        ready.set()
                elif line.startswith(b"data:") and event == "request":
                    request_id = orjson.loads(line[5:]).get("id")
                    if request_id and request_id not in result.seen:
                        result.seen[request_id] = time.perf_counter()


async def _drive(proxy_url: str, result: Visibility, requests: int, first_turn: int) -> None:
    url = proxy_url + "/v1/messages?beta=true"
    workers = max(1, min(16, int(result.rate // 10) or 1))
    sessions = [Session(100 + i, stream=bool(i % 2)) for i in range(workers)]
    work = [[s.request(first_turn + k) for k in range(requests // workers)] for s in sessions]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def worker(index: int, items: list[tuple[dict[str, str], bytes]]) -> None:
            for k, (headers, body) in enumerate(items):
                due = start + (k * workers + index) / result.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    done = time.perf_counter()
                    request_id = resp.headers.get("x-nexus-request-id")
                result.sent += 1
                if resp.status == 200 and request_id:
                    result.answered[request_id] = done

        start = time.perf_counter()
        await asyncio.gather(*(worker(i, items) for i, items in enumerate(work)))
        result.wall_s = time.perf_counter() - start


async def measure(
    proxy_url: str, api_url: str, rate: float, hogs: int, requests: int, first_turn: int
) -> Visibility:
    result = Visibility(rate, hogs)
    ready = asyncio.Event()
    follower = asyncio.ensure_future(_follow(api_url, result, ready))
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await _drive(proxy_url, result, requests, first_turn)
        deadline = time.perf_counter() + 30
        while result.missing() and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    return result


def report(v: Visibility) -> str:
    lags = v.lags_ms()
    return (
        f"visibility at {v.rate:g} req/s, {v.hogs} CPU hogs: {len(v.answered)} answered in"
        f" {v.wall_s:.1f} s; answer -> live-feed event p50 {pct(lags, 50):.0f} ms,"
        f" p99 {pct(lags, 99):.0f} ms, max {lags[-1] if lags else float('nan'):.0f} ms"
        + (f"; {v.missing()} never seen in 30 s" if v.missing() else "")
    )
