"""Export every call as JSON lines, read the file back, and check each record against the API.

    python examples/export_round_trip.py calls.jsonl

``nexus export`` writes one record per line (docs/export.md); ``record_from_line`` reads a line
back into the ``StoredRequest`` the API serves, with both bodies byte for byte as recorded (headers
that carry secrets are redacted in an export, so those are compared after the same scrub).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from nexus.client import NexusClient
from nexus.export import record_from_line

API = os.environ.get("NEXUS_API_URL", "http://127.0.0.1:3001")


async def main(path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "nexus", "export", "-f", "jsonl", "--server", API, "-o", str(path)],
        check=True,
    )
    records = [record_from_line(line) for line in path.read_bytes().splitlines()]
    async with NexusClient(API, os.environ.get("DASHBOARD_API_KEY")) as nexus:
        for record in records:
            served = await nexus.get_request(record.summary.id)
            assert served is not None, record.summary.id
            assert record.request_body == served.request_body
            assert record.response_body == served.response_body
            assert record.summary == served.summary
    print(f"{len(records)} records exported to {path} and read back unchanged")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "calls.jsonl")))
