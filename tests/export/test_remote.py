"""Export from a remote Nexus through the read API (``NexusClient``, ``--server URL --key KEY``):
the same bytes as from the store itself, and the CLI's exit codes for a wrong key or no server."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from nexus.cli.main import app as cli
from nexus.client import NexusClient
from nexus.export import ExportFormat, ExportOptions, run_export
from nexus.store import Store
from tests.export.builders import scenario, to_link, to_record

KEY = "test-dashboard-key-0123456789"


async def _seed(store: Store) -> None:
    stored, _ = scenario()
    await store.write_batch([to_record(s) for s in stored])
    await store.write_links([to_link(s) for s in stored])


async def _export(source: object, fmt: ExportFormat) -> bytes:
    chunks: list[bytes] = []
    options = ExportOptions(fmt, conversation_id="conv-1")
    await run_export(source, options, chunks.append)  # type: ignore[arg-type]
    return b"".join(chunks)


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_a_remote_export_is_byte_identical_to_a_local_one(
    store: Store, make_api: Any, fmt: ExportFormat
) -> None:
    await _seed(store)
    transport = httpx.ASGITransport(app=make_api(api_key=KEY).app)
    async with NexusClient("http://nexus.test", api_key=KEY, transport=transport) as client:
        remote = await _export(client, fmt)
    assert remote == await _export(store, fmt)


async def _cli(*args: str) -> tuple[int, bytes, str]:
    # The CLI runs its own event loop; the server lives in this one, so run the CLI in a thread.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["export", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout_bytes, result.stderr


async def test_the_cli_exports_from_a_server_and_refuses_a_wrong_key(
    store: Store, make_api: Any, serve_api: Any, tmp_path: Path
) -> None:
    await _seed(store)
    server = await serve_api(make_api(api_key=KEY))
    target = tmp_path / "remote.md"
    remote = ("--server", server.url, "--key", KEY)
    code, out, err = await _cli(*remote, "-f", "markdown", "-c", "conv-1", "-o", str(target))
    assert code == 0, err
    assert target.read_bytes() == await _export(store, ExportFormat.MARKDOWN)
    code, out, err = await _cli(*remote)
    assert code == 0 and len(out.splitlines()) == 12
    code, out, err = await _cli("--server", server.url, "--key", "wrong-key-0000000000")
    assert code == 1 and out == b""
    assert err.count("error:") == 1 and "Traceback" not in err


async def test_no_server_at_the_url_exits_3() -> None:
    with socket.socket() as sock:  # a port nobody listens on once this closes
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, out, err = await _cli("--server", url, "--key", KEY)
    assert code == 3 and out == b""
    assert "no answer from the Nexus API" in " ".join(err.split())
