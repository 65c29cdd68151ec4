"""The top-level examples/ run as a user would run them, against a real ``nexus serve`` and the fake
upstream, so what they show stays true."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anthropic

from nexus.client import NexusClient
from nexus.proxy.credential_files import read_credential_file
from nexus.usage.prices import builtin_price_book, load_price_book
from tests.fakes.nexus import StartNexus

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T_2026 = 1_780_000_000_000  # 2026-05-28


def env_for(server: Any) -> dict[str, str]:
    return {
        **os.environ,
        "NEXUS_PROXY_URL": server.endpoints.proxy_url,
        "NEXUS_API_URL": server.endpoints.api_url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
    }


async def run(script: str, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / script), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def send(server: Any, text: str, api_key: str = "sk-ant-test") -> None:
    sdk = anthropic.AsyncAnthropic(base_url=server.endpoints.proxy_url, api_key=api_key)
    await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": text}]
    )
    await sdk.close()


async def recorded(server: Any, n: int) -> None:
    """Wait until the recorder has stored ``n`` calls (it stores beside the traffic)."""
    async with NexusClient(server.endpoints.api_url) as client:
        for _ in range(300):
            if await client.count_requests() >= n:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {n} calls recorded")


async def test_the_sdk_through_nexus_finds_its_call_in_the_api(start_nexus: StartNexus) -> None:
    server = await start_nexus()
    code, out, err = await run("sdk_through_nexus.py", "Say hello", env=env_for(server))
    assert code == 0, err
    assert out.startswith("reply: ") and "recorded: " in out


async def test_follow_live_lists_the_latest_then_prints_a_new_call(
    start_nexus: StartNexus,
) -> None:
    server = await start_nexus()
    await send(server, "an earlier call")
    await recorded(server, 1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "follow_live.py"), "--count", "1", env=env_for(server),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("following"):
        lines.append((await asyncio.wait_for(proc.stdout.readline(), 30)).decode())
    await send(server, "a call made while following")
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert any("an earlier call" in line for line in lines)
    assert rest.decode().startswith("+ ") and "a call made while following" in rest.decode()


async def test_the_export_round_trip(start_nexus: StartNexus, tmp_path: Path) -> None:
    server = await start_nexus()
    for n in range(3):
        await send(server, f"call {n}")
    await recorded(server, 3)
    code, out, err = await run(
        "export_round_trip.py", str(tmp_path / "calls.jsonl"), env=env_for(server)
    )
    assert code == 0, err
    assert "3 records exported" in out and "read back unchanged" in out


async def test_the_team_credential_file_serves_a_client_key(
    start_nexus: StartNexus, fake_upstream: Any, tmp_path: Path
) -> None:
    example = EXAMPLES / "team" / "localhost:3000.credentials.json"
    folder = tmp_path / "credentials"
    folder.mkdir()
    server = await start_nexus(credentials_dir=folder)
    port = server.endpoints.proxy_url.rsplit(":", 1)[1]
    copy = folder / f"127.0.0.1:{port}.credentials.json"
    shutil.copy(example, copy)
    copy.chmod(0o600)
    team, _ = read_credential_file(copy, f"127.0.0.1:{port}")
    assert (team.kind, team.account_id) == ("api_key", "acc_team_example")
    await send(server, "from a person with the client key", api_key=team.client_api_key or "")
    seen = fake_upstream.requests[-1]
    assert seen.header("x-api-key") == team.api_key  # the account's key went upstream instead


def test_the_price_book_overlay_prices_a_model_the_shipped_book_lacks() -> None:
    overlay = EXAMPLES / "price_book_overlay.json"
    assert builtin_price_book().price_at("claude-example-9", T_2026) is None
    price = load_price_book(overlay).price_at("claude-example-9-20260501", T_2026)
    assert price is not None
    assert load_price_book(overlay).price_at("claude-sonnet-4-6", T_2026) is not None  # kept
