"""What the cache ledger adds to the recorder's CPU per record: off and on, interleaved, one run.

    .venv/bin/python benchmarks/cache_ledger_cost.py --backend sqlite --records 200 --rounds 5
    .venv/bin/python benchmarks/cache_ledger_cost.py --backend postgres

The machine is shared, so only ratios measured side by side count. Each round runs the recorder's
pipeline (``recorder_cost.run_pipeline``, batch 1, no stage timers) three times on copies of one
spool: ledger off (A), on (B), off again (A'). The round's cost ratio is B / mean(A, A'); the noise
is the A/A ratio A' / A. Reported: the median of each over the rounds, and their ranges. CPU of
this process only (``time.process_time``); on Postgres the server's CPU is left out (the ledger
reads one row per record there).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import recorder_cost  # noqa: E402


async def one_run(
    backend: str, tmp: Path, spool: Path, records: int, ledger: bool, n: int
) -> float:
    """CPU ms per record of one pipeline run, with or without the ledger."""
    copy = tmp / f"{backend}-{n}" / "spool"
    shutil.copytree(spool, copy)
    recorder_cost.WITH_CACHE_LEDGER = ledger
    async with recorder_cost.database(backend, tmp) as url:
        result = await recorder_cost.run_pipeline(url, copy, records, None, None, 1)
    return float(result["cpu"]) * 1000.0 / records


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spool = tmp / "spool"
        recorder_cost.fill_spool(spool, args.records)
        for backend in backends:
            offs: list[float] = []
            ons: list[float] = []
            ratios: list[float] = []
            noise: list[float] = []
            n = 0
            for round_no in range(args.rounds):
                a = await one_run(backend, tmp, spool, args.records, False, n := n + 1)
                b = await one_run(backend, tmp, spool, args.records, True, n := n + 1)
                a2 = await one_run(backend, tmp, spool, args.records, False, n := n + 1)
                offs += [a, a2]
                ons.append(b)
                ratios.append(b / ((a + a2) / 2))
                noise.append(a2 / a)
                print(f"{backend} round {round_no + 1}: off {a:.2f}, on {b:.2f}, off {a2:.2f} "
                      f"ms/record; on/off {ratios[-1]:.3f}, A/A {noise[-1]:.3f}", flush=True)  # fmt: skip
            print(
                f"{backend}, {args.records} records x {args.rounds} rounds: off "
                f"{statistics.median(offs):.2f}, on {statistics.median(ons):.2f} ms/record "
                f"(medians); on/off median {statistics.median(ratios):.3f} "
                f"[{min(ratios):.3f} .. {max(ratios):.3f}]; A/A median "
                f"{statistics.median(noise):.3f} [{min(noise):.3f} .. {max(noise):.3f}]",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
