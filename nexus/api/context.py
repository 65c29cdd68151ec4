"""What every API route reads: the store, the settings and the event bus of this server.

``make_api_app`` puts one ``ApiContext`` in ``app.extensions``; routes (including blueprints other
areas add under ``nexus/api/routes/``) fetch it with ``api_context()`` instead of module globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quart import current_app

from nexus.api.feed import FeedTail

if TYPE_CHECKING:
    from nexus.events import EventBus
    from nexus.settings import Settings

EXTENSION_KEY = "nexus"


@dataclass(frozen=True, slots=True)
class ApiContext:
    # Typed loosely: the composed store satisfies Store plus every area protocol (EventStore,
    # conversation and usage stores), and routes call the area methods they own.
    store: Any
    settings: Settings
    bus: EventBus
    poll_interval_s: float = 2.0  # live feed re-reads the events table at least this often
    prompts: Any = None  # nexus.prompts.PromptLibrary of this server (None: no prompt routes)
    heartbeat_s: float = (
        15.0  # SSE comment sent when nothing else was, to keep proxies from idling out
    )
    # The live feed's newest events, read and framed once for every subscriber: the API shares
    # its event loop with the proxy, whose latency must not move when many clients replay the feed.
    feed: FeedTail = field(default_factory=FeedTail)


def api_context() -> ApiContext:
    ctx: ApiContext = current_app.extensions[EXTENSION_KEY]
    return ctx
