"""The command line: ``python -m tests.fakes.upstream [--claude-code] [--cache] [--port N]`` prints
its URL on stdout and serves until interrupted (benchmarks and CLI tests run it as a subprocess)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

from tests.fakes.upstream.cache import MIN_TOKENS, PromptCache
from tests.fakes.upstream.responders import ClaudeCodeResponder, echo_reply
from tests.fakes.upstream.server import FakeUpstream
from tests.fakes.upstream.wire import Reply, Responder, SeenRequest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Anthropic API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before headers")
    parser.add_argument("--event-delay-ms", type=float, default=0.0, help="wait between events")
    parser.add_argument("--claude-code", action="store_true", help="use ClaudeCodeResponder")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="cache prompts like the real API (control it under /_fake/, see control.py)",
    )
    parser.add_argument(
        "--cache-min-tokens",
        type=int,
        default=MIN_TOKENS,
        help=f"smallest cacheable prefix in tokens (default {MIN_TOKENS})",
    )
    args = parser.parse_args(argv)

    base: Responder = ClaudeCodeResponder() if args.claude_code else echo_reply
    delay_s, event_delay_s = args.delay_ms / 1000, args.event_delay_ms / 1000

    def responder(request: SeenRequest) -> Reply:
        reply = base(request)
        if delay_s or event_delay_s:
            reply = replace(
                reply, delay_before_headers_s=delay_s, delay_between_events_s=event_delay_s
            )
        return reply

    async def serve() -> None:
        cache = PromptCache(min_tokens=args.cache_min_tokens) if args.cache else None
        upstream = FakeUpstream(responder, host=args.host, port=args.port, cache=cache)
        await upstream.start()
        print(upstream.url, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await upstream.stop()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
