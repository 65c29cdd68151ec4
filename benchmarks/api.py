"""Seed a store with Claude Code-like conversations, then time the read API over real HTTP.

    .venv/bin/python benchmarks/api.py                       # both backends, 100 000 / 2 000
    .venv/bin/python benchmarks/api.py --backend sqlite --requests 20000 --conversations 400

Each conversation is one session of main-agent turns (every turn resends the history, as Claude
Code does) with a haiku title call and the odd 429/529; words are drawn from a vocabulary with a
long tail so searches range from common to rare. Requests are linked by the real conversation
linker, batch by batch, as the writer does. The API runs in Hypercorn on a loopback port and is
called with httpx; every figure is a full HTTP round trip. Target: p99 < 100 ms per endpoint.
Reuses a seeded database when ``--keep`` named one before (``--db``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout import code_root  # noqa: E402

code_root()  # this tree's nexus, or the checkout compare_commits.py names

from nexus.records import Exchange, RequestRecord, Usage, new_id  # noqa: E402

T0 = 1_760_000_000_000
BATCH = 500
MODELS = ("claude-opus-4-8", "claude-sonnet-4-5-20250929")
HAIKU = "claude-haiku-4-5-20251001"
ACCOUNTS = ("team-a", "team-b", "team-c", "api-key")
TOOLS = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
COMMON = "the a to and of fix test file code run function error build please check update".split()
RARE = [f"zq{i:04d}" for i in range(2000)]  # each appears in a handful of turns


def _words(rnd: random.Random, n: int) -> str:
    return " ".join(
        rnd.choice(RARE) if rnd.random() < 0.05 else rnd.choice(COMMON) for _ in range(n)
    )


def conversation(rnd: random.Random, index: int, turns: int, start_ms: int) -> list[RequestRecord]:
    session = str(uuid.UUID(int=rnd.getrandbits(128)))
    account = ACCOUNTS[index % len(ACCOUNTS)]
    model = MODELS[index % len(MODELS)]
    history: list[dict[str, Any]] = []
    records = []
    at = start_ms
    for turn in range(turns):
        at += rnd.randrange(2_000, 60_000)
        prompt = f"turn {turn} of conversation {index}: " + _words(rnd, 12)
        reply = _words(rnd, 30)
        history.append({"role": "user", "content": [{"type": "text", "text": prompt}]})
        kind = "title" if turn == 1 else "turn"
        status = 200 if rnd.random() > 0.02 else rnd.choice((429, 529))
        body: dict[str, Any] = {
            "model": HAIKU if kind == "title" else model,
            "max_tokens": 64000,
            "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI."}],
            "messages": history if kind == "turn" else [history[0]],
            "stream": True,
        }
        if kind == "turn":
            body["tools"] = TOOLS
        else:
            body["system"] = [{"type": "text", "text": "Generate a concise title"}]
        message = {
            "id": f"msg_{index}_{turn}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": reply}] if status == 200 else [],
            "stop_reason": "end_turn",
        }
        message_json = orjson.dumps(message)
        usage = Usage(input_tokens=10, output_tokens=200, cache_read_input_tokens=1000 * turn)
        records.append(
            RequestRecord(
                exchange=Exchange(
                    id=new_id(at),
                    started_at_ms=at,
                    ended_at_ms=at + 3000,
                    first_byte_at_ms=at + 400,
                    method="POST",
                    path="/v1/messages",
                    query="beta=true",
                    host="localhost:3000",
                    request_headers=(("x-claude-code-session-id", session),),
                    request_body=orjson.dumps(body),
                    status=status,
                    response_headers=(("content-type", "text/event-stream"),),
                    response_body=b"event: message_start\ndata: " + message_json + b"\n\n",
                    account_id=account,
                ),
                model=body["model"],
                is_streaming=True,
                session_id=session,
                response_message=message_json,
                usage=usage,
                cost_usd_micros=1500,
                user_preview=prompt[:200],
                reply_preview=reply[:200],
                message_count=len(body["messages"]),
                tool_count=1 if kind == "turn" else 0,
            )
        )
        if kind == "turn" and status == 200:
            history.append({"role": "assistant", "content": message["content"]})
        elif kind == "turn":
            history.pop()  # a failed call is retried with the same history
    return records


def all_records(requests: int, conversations: int, seed: int = 11) -> list[RequestRecord]:
    rnd = random.Random(seed)
    turns = max(1, requests // conversations)
    out: list[RequestRecord] = []
    for c in range(conversations):
        out += conversation(rnd, c, turns, T0 + c * 600_000)
    out.sort(key=lambda r: r.exchange.started_at_ms)
    return out


async def seed(store: Any, records: list[RequestRecord]) -> float:
    from nexus.conversations.worker import ConversationLinker

    linker = ConversationLinker(store)
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        batch = records[i : i + BATCH]
        await store.write_batch(batch)
        await store.write_links(await linker.link_batch(batch))
        done = i + len(batch)
        if done % 10_000 < BATCH:
            rate = done / (time.perf_counter() - started)
            print(f"  seeded {done:,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def served(store: Any) -> AsyncIterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from nexus.api.app import make_api_app
    from nexus.events import EventBus
    from nexus.settings import Settings

    app = make_api_app(store, Settings(), EventBus())
    config = Config()
    port = _free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(200):
            try:
                await http.get("/health")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
    try:
        yield url
    finally:
        stop.set()
        await task


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(
    url: str, store: Any, samples: int, only: str = ""
) -> dict[str, tuple[float, float]]:
    rnd = random.Random(5)
    ids = [row[0] for row in await store._fetchall("SELECT id FROM requests")]
    convs = [
        row[0]
        for row in await store._fetchall(
            "SELECT DISTINCT conversation_id FROM links WHERE conversation_id IS NOT NULL"
        )
    ]
    largest = await store._fetchall(
        "SELECT conversation_id, count(*) FROM links WHERE conversation_id IS NOT NULL"
        " GROUP BY conversation_id ORDER BY count(*) DESC LIMIT 1"
    )
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        first = (await http.get("/api/requests?limit=100")).json()
        deep_cursor = ids[len(ids) // 2] if ids else ""

        def fixed(path: str) -> Callable[[], str]:
            return lambda: path

        cases: dict[str, Callable[[], str]] = {
            "list (first page, 100)": fixed("/api/requests?limit=100"),
            "list (deep cursor)": fixed(f"/api/requests?limit=100&cursor={deep_cursor}"),
            "filter model": fixed("/api/requests?model=haiku"),
            "filter status=4xx": fixed("/api/requests?status=4xx"),
            "filter account+class": fixed("/api/requests?account=team-b&class=turn"),
            "filter conversation": lambda: f"/api/requests?conversation_id={rnd.choice(convs)}",
            "filter since (last hour)": fixed(f"/api/requests?since={_newest(first) - 3_600_000}"),
            "search common word": fixed("/api/requests?q=build"),
            "search rare word": lambda: f"/api/requests?q={rnd.choice(RARE)}",
            "search two words": lambda: f"/api/requests?q=please+{rnd.choice(RARE)}",
            "detail": lambda: f"/api/requests/{rnd.choice(ids)}",
            "conversations list": fixed("/api/conversations?limit=100"),
            "conversations search common word": fixed("/api/conversations?q=build"),
            "conversations search rare word": lambda: f"/api/conversations?q={rnd.choice(RARE)}",
            "conversations count (search)": fixed("/api/conversations/count?q=build"),
            "tree": lambda: f"/api/conversations/{rnd.choice(convs)}",
        }
        if largest and largest[0][1] > 2 * len(ids) // max(len(convs), 1):  # tui.py's 500 turns
            name = f"tree of the largest ({largest[0][1]} requests)"
            cases[name] = fixed(f"/api/conversations/{largest[0][0]}")
        results = {}
        for name, path_of in cases.items():
            if only and not any(word in name for word in only.split(",")):
                continue
            await http.get(path_of())  # warm
            times = []
            for _ in range(samples):
                path = path_of()
                t = time.perf_counter()
                response = await http.get(path)
                times.append((time.perf_counter() - t) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
            times.sort()
            results[name] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
    return results


def _newest(page: dict[str, Any]) -> int:
    return int(page["items"][0]["started_at_ms"]) if page["items"] else T0


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    store, count, cleanup = await seeded_bench_store(backend, args)
    try:
        async with served(store) as url:
            results = await measure(url, store, args.samples, args.cases)
        print(f"\n{backend}: {count:,} requests, {args.samples} calls per endpoint (ms)")
        print(f"  {'endpoint':28} {'p50':>7} {'p99':>7}")
        for name, (p50, p99) in results.items():
            flag = "" if p99 < 100 else "  ← over 100 ms"
            print(f"  {name:28} {p50:7.1f} {p99:7.1f}{flag}")
    finally:
        await store.close()
        await cleanup()


async def seeded_bench_store(backend: str, args: argparse.Namespace) -> tuple[Any, int, Any]:
    """The store of ``--db`` (or a new one), seeded if empty and analysed on Postgres: (store,
    requests in it, cleanup). ``mcp_tools.py`` times the same store."""
    store, cleanup = await open_bench_store(backend, args)
    count = (await store._fetchone("SELECT count(*) FROM requests"))[0]
    if count == 0:
        records = all_records(args.requests, args.conversations)
        print(f"[{backend}] seeding {len(records):,} requests…", file=sys.stderr)
        seconds = await seed(store, records)
        print(f"[{backend}] seeded in {seconds:.0f} s", file=sys.stderr)
        count = len(records)
    if backend == "postgres":
        # What autovacuum does soon after a bulk load: planner statistics, GIN pending list.
        async with store.connector._connection() as conn:
            await conn.execute("VACUUM ANALYZE")
    return store, count, cleanup


def add_store_arguments(parser: argparse.ArgumentParser, samples: int) -> None:
    """The seeded store's options (and ``--samples``), shared with ``mcp_tools.py``."""
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--db", help="SQLite file or Postgres database name to (re)use")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument(
        "--cases", default="", help="only the endpoints whose name holds one of these (comma list)"
    )


async def open_bench_store(backend: str, args: argparse.Namespace) -> tuple[Any, Any]:
    if backend == "sqlite":
        from nexus.store.sqlite import SqliteStore

        path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench.db"
        store = SqliteStore(path)
        await store.open()

        async def drop_file() -> None:
            if not args.keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
            else:
                print(f"kept {path}", file=sys.stderr)

        return store, drop_file
    import asyncpg

    from nexus.store.postgres import PostgresStore

    admin = args.postgres
    name = args.db or f"nexus_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin.rsplit("/", 1)[0] + "/" + name
    store = PostgresStore(url)
    await store.open()

    async def drop_db() -> None:
        if args.keep:
            print(f"kept database {name}", file=sys.stderr)
            return
        c = await asyncpg.connect(admin)
        try:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await c.close()

    return store, drop_db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_store_arguments(parser, samples=200)
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        asyncio.run(run_backend(backend, args))


if __name__ == "__main__":
    main()
