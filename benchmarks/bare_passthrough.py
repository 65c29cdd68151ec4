"""The floor under Nexus: a bare Quart-on-Hypercorn pass-through forwarding through one aiohttp
session, with nothing else (no checks, no auth, no recording, no added headers). Issue 2 calibrated
its targets against such a proxy ("adds about 1.4 ms and serves about 850"); ``proxy_overhead.py``
runs this one in the same run as Nexus so the two are compared on the same machine, same minute.

    python benchmarks/bare_passthrough.py --port N --upstream http://127.0.0.1:M
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def make_app(upstream: str) -> Quart:
    app = Quart("bare")
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    app.config["RESPONSE_TIMEOUT"] = None
    session: dict[str, aiohttp.ClientSession] = {}

    @app.before_serving
    async def open_session() -> None:
        session["s"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )

    @app.after_serving
    async def close_session() -> None:
        await session["s"].close()

    @app.route("/v1/<path:path>", methods=["POST", "GET"])
    async def relay(path: str) -> Response:
        body = await request.get_data(cache=False)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        url = (
            upstream
            + request.path
            + (f"?{request.query_string.decode()}" if request.query_string else "")
        )
        resp = await session["s"].request(request.method, url, headers=headers, data=body)
        out = [(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP]
        if "text/event-stream" in resp.headers.get("content-type", ""):

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in resp.content.iter_any():
                        yield chunk
                finally:
                    resp.release()

            response = Response(chunks(), status=resp.status, headers=out)
            response.timeout = None
            return response
        data = await resp.read()
        return Response(data, status=resp.status, headers=out)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    import uvloop

    uvloop.run(serve(make_app(args.upstream.rstrip("/")), config))  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
