"""What limits cost the proxy: the same Nexus, one host with 100 named keys under a full policy
("on") and one with a single shared key and no policy ("off"), driven in alternating cells.

One ``nexus serve`` (SQLite, recording on) in front of the fake API (benchmarks/fake_upstream.py);
both hosts live in its credentials folder, so both sides share the process, the database and the
machine's noise. "on": every call is checked against host, account and client limits (requests per
minute, tokens per hour, dollars per day and month, allowed models) and the runaway guard (which
reads the tail of each body), counted, and its record counted into the limit counters by the
recorder; the limits are set too high to refuse anything. Each call of a worker uses the next of
the 100 keys. Bodies are ~190 KB Claude Code-like (benchmarks/bodies.py).

    .venv/bin/python benchmarks/limits_overhead.py [--rounds 3] [--requests 600] [--requests-c1 150]

Prints per cell: p50 / p99 latency, p50 of ``x-nexus-overhead-ms`` (the proxy's own time on a call,
measured inside Nexus: the figure where a limit check would show), requests/s, and the proxy
process's CPU per request; then on − off for each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from bodies import Session  # noqa: E402
from proxy_overhead import _wait_listening, cpu_seconds, free_port, pct  # noqa: E402

from nexus.proxy.client_keys import add_client  # noqa: E402
from nexus.proxy.credential_files import client_key_id, generate_client_key  # noqa: E402

KEYS = 100
HIGH = 10**9
POLICY = {
    "host": {"requests_per_minute": HIGH, "usd_per_month": HIGH},
    "account": {"tokens_per_hour": HIGH, "usd_per_day": HIGH},
    "client": {"requests_per_minute": HIGH, "tokens_per_hour": HIGH, "usd_per_day": HIGH,
               "usd_per_month": HIGH, "models": ["claude-*"]},
    "runaway": {"repeats": 20, "usd": HIGH, "minutes": 10, "refuse": True},
}  # fmt: skip


@dataclass
class Cell:
    side: str
    mode: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0


def write_credentials(folder: Path) -> tuple[list[str], str]:
    folder.mkdir(mode=0o700)
    keys = [generate_client_key() for _ in range(KEYS)]
    on: dict[str, object] = {"type": "api_key", "accountId": "bench", "api_key": "sk-ant-bench"}
    for i, key in enumerate(keys):
        add_client(on, f"person-{i:03d}", key, client_key_id(key), 0)
    on["policy"] = POLICY
    shared = generate_client_key()
    off = {"type": "api_key", "accountId": "bench", "api_key": "sk-ant-bench",
           "client_api_key": shared}  # fmt: skip
    for host, data in (("limits-on.test", on), ("limits-off.test", off)):
        path = folder / f"{host}.credentials.json"
        path.write_bytes(orjson.dumps(data))
        path.chmod(0o600)
    return keys, shared


async def drive(url: str, cell: Cell, host: str, keys: list[str], requests: int, seq: int) -> None:
    c = cell.concurrency
    sessions = [Session(i, stream=cell.mode == "stream") for i in range(c)]
    work = []
    for i, session in enumerate(sessions):
        items = []
        for k in range(requests // c):
            headers, body = session.request(seq + k, api_key=keys[(i * 37 + k) % len(keys)])
            items.append(({**headers, "host": host}, body))
        work.append(items)
    connector = aiohttp.TCPConnector(limit=c)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:

        async def worker(items: list[tuple[dict[str, str], bytes]]) -> None:
            for headers, body in items:
                t0 = time.perf_counter()
                async with http.post(url + "/v1/messages", data=body, headers=headers) as resp:
                    while await resp.content.readany():
                        pass
                    if resp.status != 200:
                        cell.errors += 1
                        continue
                    cell.latencies.append(time.perf_counter() - t0)
                    cell.overheads.append(float(resp.headers["x-nexus-overhead-ms"]) / 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker(items) for items in work))
        cell.wall_s = time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="on/off pairs per cell")
    parser.add_argument("--requests", type=int, default=600, help="requests per cell at c=16")
    parser.add_argument("--requests-c1", type=int, default=150, help="requests per cell at c=1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nexus-limits-bench-") as tmp:
        root = Path(tmp)
        keys, shared = write_credentials(root / "credentials")
        fake_port, proxy_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "ANTHROPIC_"))}
        fake = subprocess.Popen([sys.executable, str(HERE / "fake_upstream.py"), "--port",
                                 str(fake_port)], stdout=subprocess.DEVNULL)  # fmt: skip
        log = open(root / "nexus.log", "wb")  # noqa: SIM115 - closed at the end
        nexus = subprocess.Popen(
            [sys.executable, "-m", "nexus", "serve", "--db", f"sqlite:///{root / 'nexus.db'}",
             "--proxy-port", str(proxy_port), "--api-port", str(free_port()),
             "--upstream", f"http://127.0.0.1:{fake_port}",
             "--credentials-dir", str(root / "credentials"), "--data-dir", str(root / "data")],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            _wait_listening(fake_port, fake)
            _wait_listening(proxy_port, nexus)
            url = f"http://127.0.0.1:{proxy_port}"
            sides = {"off": ("limits-off.test", [shared]), "on": ("limits-on.test", keys)}
            results: dict[tuple[str, str, int], list[Cell]] = {}
            seq = 0
            for mode in ("json", "stream"):
                for c in (1, 16):
                    n = args.requests_c1 if c == 1 else args.requests
                    for host, key_list in sides.values():  # warm-up, unmeasured
                        asyncio.run(drive(url, Cell("warm", mode, c), host, key_list, 40, seq))
                    for r in range(args.rounds):
                        order = ("off", "on") if r % 2 == 0 else ("on", "off")
                        for side in order:
                            host, key_list = sides[side]
                            cell = Cell(side, mode, c)
                            cpu0 = cpu_seconds(nexus.pid)
                            asyncio.run(drive(url, cell, host, key_list, n, seq))
                            cell.cpu_s = cpu_seconds(nexus.pid) - cpu0
                            seq += n
                            results.setdefault((side, mode, c), []).append(cell)
            report(results)
        finally:
            nexus.terminate()
            nexus.wait(30)
            fake.terminate()
            fake.wait(10)
            log.close()
            print((root / "nexus.log").read_text()[-800:], file=sys.stderr)
    return 0


def report(results: dict[tuple[str, str, int], list[Cell]]) -> None:
    print(f"{'cell':<16}{'side':<5}{'p50 ms':>8}{'p99 ms':>8}{'ovh p50':>9}{'req/s':>8}"
          f"{'cpu ms/req':>11}{'errors':>7}")  # fmt: skip
    for mode in ("json", "stream"):
        for c in (1, 16):
            row = {}
            for side in ("off", "on"):
                cells = results[(side, mode, c)]
                lat = [x for cell in cells for x in cell.latencies]
                ovh = [x for cell in cells for x in cell.overheads]
                sent = sum(len(cell.latencies) + cell.errors for cell in cells)
                rps = sum(len(cell.latencies) for cell in cells) / sum(
                    cell.wall_s for cell in cells
                )
                cpu = sum(cell.cpu_s for cell in cells) / max(1, sent) * 1000
                errors = sum(cell.errors for cell in cells)
                row[side] = (pct(lat, 50), pct(ovh, 50), rps, cpu)
                print(f"{mode + ' c=' + str(c):<16}{side:<5}{pct(lat, 50):>8.2f}{pct(lat, 99):>8.2f}"
                      f"{pct(ovh, 50):>9.3f}{rps:>8.0f}{cpu:>11.2f}{errors:>7}")  # fmt: skip
            d = [row["on"][i] - row["off"][i] for i in range(4)]
            print(f"{'':<16}{'Δ':<5}{d[0]:>+8.2f}{'':>8}{d[1]:>+9.3f}{d[2]:>+8.0f}{d[3]:>+11.2f}")


if __name__ == "__main__":
    sys.exit(main())
