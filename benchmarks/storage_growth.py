"""Storage growth: a long Claude Code conversation through a running Nexus, on SQLite and Postgres.

    .venv/bin/python benchmarks/storage_growth.py                      # both backends, 200 turns
    .venv/bin/python benchmarks/storage_growth.py --backend sqlite --turns 50

Part 1 sends a 200-turn conversation shaped like the captured Claude Code traffic in
tests/data/claude_code/ (same headers, system blocks, 24-tool list, metadata, thinking settings;
each turn resends the whole history, the assistant's thinking with its signature, a Bash tool_use
answered by a ~2 KB tool_result, cache_control moving to the newest user message, a new prompt with
its <system-reminder> every 10 turns) through an in-process ``nexus serve`` (Server + the fake
upstream on loopback sockets). It prints the bytes clients sent, the bytes of unique content (each
distinct message, system prompt, tool list and remaining body once, plus every response), and the
store's size on disk: the SQLite file (+ WAL after a checkpoint) or the Postgres tables with their
indexes and TOAST, as a delta from the freshly migrated empty schema. Target: store ≤ 2× unique.

The writer's throughput and CPU per record are measured by benchmarks/recorder_cost.py.

Postgres: ``--pg-url`` (default: the local server, database postgres); a scratch database is
created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout import code_root, own_module  # noqa: E402

ROOT = code_root()  # this tree's nexus and test fakes, or the checkout compare_commits.py names

from nexus.recorder.sse import assemble_sse  # noqa: E402
from tests.fakes.upstream import (  # noqa: E402
    FakeUpstream,
    Reply,
    ToolUse,
)

# The measure is the benchmark's, not the code under test's: from this tree, even when the
# checkout measured predates it.
distinct_body_bytes = own_module("tests/store/distinct_content.py").distinct_body_bytes

CAPTURE = ROOT / "tests" / "data" / "claude_code" / "tool_loop.json"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = (
    "the build fails because the fixture opens the database before the migration runs so the "
    "test sees an empty schema and the query returns nothing we should move the setup into the "
    "session scope and check the error path of the writer when the store is down again"
).split()


def _prose(rnd: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rnd.choice(WORDS) if rnd.random() > 0.03 else f"x{rnd.getrandbits(24):06x}"
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def _template() -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Headers and body of a real captured Claude Code turn (the second call of tool_loop)."""
    capture = orjson.loads(CAPTURE.read_bytes())
    posts = [e for e in capture["exchanges"] if e["method"] == "POST"]
    exchange = posts[-1]
    skip = {"host", "content-length", "connection", "accept-encoding"}
    headers = [(k, v) for k, v in exchange["headers"] if k.lower() not in skip]
    return headers, orjson.loads(exchange["body"])


class Conversation:
    """One Claude Code session, turn by turn: every body carries the whole history so far."""

    def __init__(self, rnd: random.Random, template: dict[str, Any]) -> None:
        self.rnd = rnd
        self.session = str(uuid.UUID(int=rnd.getrandbits(128)))
        self.template = dict(template)
        metadata = orjson.loads(template["metadata"]["user_id"])
        metadata["session_id"] = self.session
        self.template["metadata"] = {"user_id": orjson.dumps(metadata).decode()}
        first, agents = template["messages"][0], template["messages"][1]
        self.reminder = first["content"][0]
        self.history: list[dict[str, Any]] = [self._prompt(), agents]

    def _prompt(self) -> dict[str, Any]:
        text = "please " + _prose(self.rnd, 300)
        return {"role": "user", "content": [self.reminder, {"type": "text", "text": text}]}

    def body(self) -> bytes:
        """The next request: cache_control sits on the newest user message only, as Claude Code
        sends it, so that message's bytes change once it is no longer the newest."""
        messages = [dict(m) for m in self.history]
        last = messages[-1]
        if last["role"] == "user" and isinstance(last["content"], list):
            blocks = [dict(b) for b in last["content"]]
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
            messages[-1] = {**last, "content": blocks}
        return orjson.dumps({**self.template, "messages": messages})

    def answered(self, response_sse: bytes, turn: int) -> None:
        message = orjson.loads(assemble_sse(response_sse).message or b"{}")
        content = message.get("content") or []
        self.history.append({"role": "assistant", "content": content})
        tool_uses = [b for b in content if b.get("type") == "tool_use"]
        if tool_uses:
            output = _prose(self.rnd, 2000)
            self.history.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_uses[0]["id"],
                            "type": "tool_result",
                            "content": output,
                            "is_error": False,
                        }
                    ],
                }  # fmt: skip
            )
        else:
            self.history.append(self._prompt())


def reply_for(rnd: random.Random, turn: int) -> Reply:
    """Most turns run a Bash command; every 10th ends the task with text (then a new prompt)."""
    thinking = _prose(rnd, 700)
    if turn % 10 == 9:
        return Reply(text=_prose(rnd, 900), thinking=thinking)
    command = f"pytest tests/store -k {rnd.choice(WORDS)} -q 2>&1 | tail -{rnd.randrange(5, 40)}"
    return Reply(
        text=_prose(rnd, 200),
        thinking=thinking,
        tool_uses=(ToolUse(name="Bash", input={"command": command, "description": "run tests"}),),
    )


def unique_content(bodies: list[bytes]) -> tuple[int, int]:
    """(bytes of distinct messages + system + tools + rest of the body, as sent; total sent)."""
    return distinct_body_bytes(bodies), sum(len(b) for b in bodies)


# -- backends -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def backend(kind: str, folder: Path, pg_url: str) -> AsyncIterator[str]:
    """A database URL for a fresh store of ``kind``; the Postgres database is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'nexus.db'}"
        return
    import asyncpg

    name = f"nexus_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def size_on_disk(url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")  # settle the visibility maps; sizes stay honest
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')"
            )
        )
    finally:
        await conn.close()


def settings_for(url: str, folder: Path, upstream_url: str) -> Any:
    from nexus.settings import Settings

    return Settings(
        database_url=url,
        data_dir=folder / "data",
        credentials_dir=folder / "credentials",
        proxy_port=0,
        api_port=0,
        upstream_url=upstream_url,
    )


# -- part 1: growth -----------------------------------------------------------------------------


async def growth(kind: str, turns: int, pg_url: str) -> dict[str, Any]:
    from nexus.server import Server

    rnd = random.Random(7)
    headers, template = _template()
    conversation = Conversation(rnd, template)
    turn_box = [0]
    upstream = FakeUpstream(lambda seen: reply_for(rnd, turn_box[0]))
    await upstream.start()
    bodies: list[bytes] = []
    response_bytes = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with backend(kind, folder, pg_url) as url:
            server = Server(settings_for(url, folder, upstream.url))
            await server.start()
            empty = await size_on_disk(url)
            assert server.endpoints is not None
            proxy = server.endpoints.proxy_url + "/v1/messages?beta=true"
            session_headers = [
                (k, conversation.session if k.lower() == "x-claude-code-session-id" else v)
                for k, v in headers
            ]
            started = time.perf_counter()
            try:
                async with httpx.AsyncClient(timeout=60) as client:
                    for turn in range(turns):
                        turn_box[0] = turn
                        body = conversation.body()
                        bodies.append(body)
                        response = await client.post(proxy, content=body, headers=session_headers)
                        response.raise_for_status()
                        response_bytes += len(response.content)
                        conversation.answered(response.content, turn)
                await server.flush(timeout_s=120)
                elapsed = time.perf_counter() - started
                stats = await server.store.stats()
            finally:
                await server.stop()
                await upstream.stop()
            size = await size_on_disk(url)
    unique_requests, sent = unique_content(bodies)
    unique = unique_requests + response_bytes
    return {
        "backend": kind,
        "turns": turns,
        "sent": sent,
        "largest_body": max(len(b) for b in bodies),
        "unique_requests": unique_requests,
        "responses": response_bytes,
        "unique": unique,
        "nexus_unique": stats.unique_content_bytes,
        "nexus_received": stats.bytes_received,
        "store": size - empty,
        "store_total": size,
        "requests": stats.requests,
        "seconds": elapsed,
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:8.2f} MB"


def growth_lines(r: dict[str, Any]) -> list[str]:
    whole = (r["sent"] + r["responses"]) / r["unique"]
    return [
        f"[{r['backend']}] {r['requests']} requests recorded in {r['seconds']:.1f} s",
        f"  bytes sent by the client      {_mb(r['sent'])}"
        f"   (largest body {r['largest_body'] / 1e3:.0f} KB)",
        f"  unique request content        {_mb(r['unique_requests'])}"
        f"   (Nexus's own count: {_mb(r['nexus_unique']).strip()})",
        f"  response bytes (all unique)   {_mb(r['responses'])}",
        f"  unique content, total         {_mb(r['unique'])}",
        f"  store size on disk (delta)    {_mb(r['store'])}"
        f"   (absolute {_mb(r['store_total']).strip()})",
        f"  store / unique                {r['store'] / r['unique']:8.2f} x   (target <= 2x)",
        f"  whole bodies / unique         {whole:8.1f} x   (storing every body whole)",
        f"    requests only               {r['sent'] / r['unique_requests']:8.1f} x",
        "",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]

    print(f"Part 1: a {args.turns}-turn Claude Code conversation through nexus serve\n")
    for kind in kinds:
        print("\n".join(growth_lines(await growth(kind, args.turns, args.pg_url))))


if __name__ == "__main__":
    asyncio.run(main())
