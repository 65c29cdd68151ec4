"""What limits cost the proxy: the same Nexus, one host with 100 named keys under every limit
("on"), one with the same keys under every limit and the runaway guard ("guard"), and two
identical hosts with a single shared key and no policy ("off", "off2"), driven in interleaved
cells. off2 − off is an A/A comparison: the noise a difference must beat.

One ``nexus serve`` (SQLite, recording on) in front of the fake API (benchmarks/fake_upstream.py);
all hosts live in its credentials folder, so every side shares the process, the database and the
machine's noise. "on": every call is checked against host, account and client limits (requests per
minute, tokens per hour, dollars per day and month, allowed models), counted, and its record
counted into the limit counters by the recorder; the limits are set too high to refuse anything.
"guard" adds the runaway guard (which reads the tail of each body and keeps each session's spend).
Each call of a worker uses the next of the 100 keys. Bodies are ~190 KB Claude Code-like
(benchmarks/bodies.py).

    .venv/bin/python benchmarks/limits_overhead.py [--rounds 4] [--requests 600] [--requests-c1 150]

Each round runs the four sides once, in an order that rotates from round to round (so no side
always follows the recorder's backlog of another). Prints per cell and side: p50 / p99 latency, p50
of ``x-nexus-overhead-ms`` (the proxy's own time on a call, measured inside Nexus: the figure where
a limit check would show), requests/s, and CPU per request of the proxy process and of its
recorder child. Then, per metric, on − off and guard − off (pooled over the rounds) beside the A/A
noise: off2 − off pooled, and the largest |off2 − off| of a single round; "within" when the
difference is no larger than that largest A/A difference ("WORSE" / "better" past it).
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
POLICY: dict[str, object] = {
    "host": {"requests_per_minute": HIGH, "usd_per_month": HIGH},
    "account": {"tokens_per_hour": HIGH, "usd_per_day": HIGH},
    "client": {"requests_per_minute": HIGH, "tokens_per_hour": HIGH, "usd_per_day": HIGH,
               "usd_per_month": HIGH, "models": ["claude-*"]},
}  # fmt: skip
GUARD = {**POLICY, "runaway": {"repeats": 20, "usd": HIGH, "minutes": 10, "refuse": True}}
HOSTS = {"off": "limits-off.test", "off2": "limits-off2.test", "on": "limits-on.test",
         "guard": "limits-guard.test"}  # fmt: skip
SIDES = tuple(HOSTS)


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
    recorder_cpu_s: float = 0.0


def write_credentials(folder: Path) -> tuple[list[str], str]:
    folder.mkdir(mode=0o700)
    keys = [generate_client_key() for _ in range(KEYS)]
    on: dict[str, object] = {"type": "api_key", "accountId": "bench", "api_key": "sk-ant-bench"}
    for i, key in enumerate(keys):
        add_client(on, f"person-{i:03d}", key, client_key_id(key), 0)
    shared = generate_client_key()
    off = {"type": "api_key", "accountId": "bench", "api_key": "sk-ant-bench",
           "client_api_key": shared}  # fmt: skip
    files = {"off": off, "off2": off, "on": {**on, "policy": POLICY},
             "guard": {**on, "policy": GUARD}}  # fmt: skip
    for side, data in files.items():
        path = folder / f"{HOSTS[side]}.credentials.json"
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
    parser.add_argument("--rounds", type=int, default=4, help="on/off/off2 triples per cell")
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
            sides = {side: (HOSTS[side], keys if side in ("on", "guard") else [shared])
                     for side in SIDES}  # fmt: skip
            orders = [SIDES[i:] + SIDES[:i] for i in range(len(SIDES))]
            results: dict[tuple[str, str, int], list[Cell]] = {}
            seq = 0
            for mode in ("json", "stream"):
                for c in (1, 16):
                    n = args.requests_c1 if c == 1 else args.requests
                    for host, key_list in sides.values():  # warm-up, unmeasured
                        asyncio.run(drive(url, Cell("warm", mode, c), host, key_list, 40, seq))
                    for r in range(args.rounds):
                        for side in orders[r % len(orders)]:
                            host, key_list = sides[side]
                            cell = Cell(side, mode, c)
                            recorder = recorder_pid(nexus.pid)
                            cpu0, rec0 = cpu_seconds(nexus.pid), _cpu_or_zero(recorder)
                            asyncio.run(drive(url, cell, host, key_list, n, seq))
                            cell.cpu_s = cpu_seconds(nexus.pid) - cpu0
                            cell.recorder_cpu_s = _cpu_or_zero(recorder) - rec0
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


def recorder_pid(pid: int) -> int | None:
    """The recorder child of the ``nexus serve`` process (restarted children get a new pid)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _cpu_or_zero(pid: int | None) -> float:
    try:
        return cpu_seconds(pid) if pid is not None else 0.0
    except OSError:
        return 0.0


_METRICS = ("p50 ms", "ovh p50", "req/s", "proxy cpu", "rec cpu")


def _figures(cells: list[Cell]) -> tuple[float, ...]:
    """p50, overhead p50 (ms), req/s, proxy and recorder CPU ms per request of some cells."""
    lat = [x for cell in cells for x in cell.latencies]
    ovh = [x for cell in cells for x in cell.overheads]
    sent = max(1, sum(len(cell.latencies) + cell.errors for cell in cells))
    done = sum(len(cell.latencies) for cell in cells)
    rps = done / max(1e-9, sum(cell.wall_s for cell in cells))
    cpu = sum(cell.cpu_s for cell in cells) / sent * 1000
    rec = sum(cell.recorder_cpu_s for cell in cells) / sent * 1000
    return pct(lat, 50), pct(ovh, 50), rps, cpu, rec


def report(results: dict[tuple[str, str, int], list[Cell]]) -> None:
    print(f"{'cell':<12}{'side':<6}{'p50 ms':>8}{'p99 ms':>8}{'ovh p50':>9}{'req/s':>8}"
          f"{'proxy cpu':>10}{'rec cpu':>9}{'errors':>7}   (cpu: ms per request)")  # fmt: skip
    verdicts = []
    for mode in ("json", "stream"):
        for c in (1, 16):
            name = f"{mode} c={c}"
            pooled = {}
            for side in SIDES:
                cells = results[(side, mode, c)]
                pooled[side] = _figures(cells)
                p50, ovh, rps, cpu, rec = pooled[side]
                p99 = pct([x for cell in cells for x in cell.latencies], 99)
                errors = sum(cell.errors for cell in cells)
                print(f"{name:<12}{side:<6}{p50:>8.2f}{p99:>8.2f}{ovh:>9.3f}{rps:>8.0f}"
                      f"{cpu:>10.3f}{rec:>9.3f}{errors:>7}")  # fmt: skip
            rounds = zip(results[("off", mode, c)], results[("off2", mode, c)], strict=True)
            per_round = [(_figures([a]), _figures([b])) for a, b in rounds]
            for i, metric in enumerate(_METRICS):
                ratio = metric == "req/s"  # throughput as a ratio to off, the rest as differences
                off, off2 = pooled["off"][i], pooled["off2"][i]
                aa = off2 / off - 1 if ratio else off2 - off
                aa_max = max(abs(b[i] / a[i] - 1 if ratio else b[i] - a[i]) for a, b in per_round)
                deltas = [pooled[side][i] / off - 1 if ratio else pooled[side][i] - off
                          for side in ("on", "guard")]  # fmt: skip
                verdicts.append((name, metric, deltas, aa, aa_max, ratio))
    print(f"\n{'cell':<12}{'metric':<11}{'on - off':>10}{'guard - off':>13}{'A/A off2-off':>14}"
          f"{'A/A max round':>15}  verdict (on, guard)")  # fmt: skip
    for name, metric, deltas, aa, aa_max, ratio in verdicts:
        fmt = (lambda v: f"{v * 100:+.1f}%") if ratio else (lambda v: f"{v:+.3f}")
        worse = [d < 0 if ratio else d > 0 for d in deltas]
        # on does strictly more work than off: a gain past the noise is noise too, said as such
        said = ["within" if abs(d) <= aa_max else ("WORSE" if w else "better")
                for d, w in zip(deltas, worse, strict=True)]  # fmt: skip
        print(f"{name:<12}{metric:<11}{fmt(deltas[0]):>10}{fmt(deltas[1]):>13}{fmt(aa):>14}"
              f"{fmt(aa_max).lstrip('+'):>15}  {', '.join(said)}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
