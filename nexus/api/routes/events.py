"""``GET /api/events``: the live feed as server-sent events, resumable exactly.

The stream is a cursor over the store's events table: it sends every event after the client's
resume point (``Last-Event-ID`` header, else ``?after=``, else "from now"), then sleeps until the
event bus wakes it, the poll interval passes, or the server shuts down. Because every read starts
from the last ``id`` sent, a missed wake-up delays events and a reconnect neither skips nor repeats
one. A comment line goes out when the stream has been quiet for ``heartbeat_s``.

Work and memory per subscriber are bounded, since the feed shares the proxy's event loop: a replay
starts at most ``REPLAY_LIMIT`` events back (an older resume point skips ahead, and the
``connected`` frame says how many were skipped: reload the lists to fill the gap); the newest
events are read and framed once for all subscribers (``nexus.api.feed``), at most 100 of them go out
per write, and a subscriber holds one batch while its socket drains, however slowly it reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from quart import Blueprint, Response, request

from nexus.api.context import ApiContext, api_context
from nexus.api.params import parse_seq
from nexus.api.serialize import comment_frame, connected_frame
from nexus.errors import StoreUnavailable
from nexus.events import Subscription

blueprint = Blueprint("events", __name__)
log = logging.getLogger("nexus.api.events")
REPLAY_LIMIT = 1000  # the shared tail (nexus.api.feed) holds as many: a replay never misses it
RETRY_MS = 2000  # how long an EventSource client waits before reconnecting


@blueprint.get("/api/events")
async def events() -> Response:
    ctx = api_context()
    resume = parse_seq(request.headers.get("Last-Event-ID"), "Last-Event-ID")
    if resume is None:
        resume = parse_seq(request.args.get("after"), "after")
    subscription = ctx.bus.subscribe()  # before reading the start point: no wake-up falls between
    try:
        last = await ctx.store.last_event_seq()
        # A resume point past the end means another database (reset, restored): start at its end.
        start = last if resume is None else min(resume, last)
        skipped = max(0, last - REPLAY_LIMIT - start)
        start += skipped
    except BaseException:
        subscription.close()
        raise
    response = Response(
        _stream(ctx, subscription, start, skipped),
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # a live feed has no end
    return response


async def _stream(
    ctx: ApiContext, subscription: Subscription, cursor: int, skipped: int
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    with subscription:
        # First frame at once: the client learns it is connected and where it stands.
        yield connected_frame(cursor, RETRY_MS, skipped)
        quiet_since = loop.time()
        while not ctx.bus.is_closed:
            try:
                frames, cursor, more = await ctx.feed.read(ctx.store, cursor)
            except StoreUnavailable as exc:
                log.warning("live feed cannot read events: %s", exc)
                frames, more = b"", False
            if frames:
                yield frames
                quiet_since = loop.time()
                if more:
                    continue  # more are waiting: catch up before sleeping
            wait_s = min(ctx.poll_interval_s, ctx.heartbeat_s - (loop.time() - quiet_since))
            if wait_s <= 0 or not await subscription.wait(wait_s):
                if loop.time() - quiet_since >= ctx.heartbeat_s:
                    yield comment_frame("keep-alive")
                    quiet_since = loop.time()
