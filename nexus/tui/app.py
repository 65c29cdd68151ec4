"""``NexusApp``: the Textual app of ``nexus tui`` and ``make_app(settings, client)`` that builds it.

The app owns the client, the live feed (one long-lived worker reading ``/api/events``, publishing
batches on ``feed_signal``), the connection state every screen shows, and navigation between the
views: Live, Conversations, Usage and Prompts (from the command palette) are modes (each keeps its own stack), request detail and one
conversation are pushed on top. Every binding of the active screen is also a command-palette entry.
One handler reports failed workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from nexus.records import LiveEvent, Page, RequestFilter, RequestSummary, now_ms
from nexus.tui.feed import ConnectionState, Link, LiveFeed, is_refusal, refusal_text
from nexus.tui.links import DeepLink
from nexus.tui.messages import FeedReady
from nexus.tui.paging import PAGE_SIZE
from nexus.tui.screens.live import LiveScreen

if TYPE_CHECKING:
    from nexus.settings import Settings
    from nexus.tui.first_page import FirstPage
    from nexus.tui.source import Source


class NexusApp(App[None]):
    CSS_PATH = Path(__file__).with_name("nexus.tcss")
    TITLE = "Nexus"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('live')", "Live", id="app.live"),
        Binding("2", "switch_mode('conversations')", "Conversations", id="app.conversations"),
        Binding("3", "switch_mode('usage')", "Usage", id="app.usage"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = {
        "live": LiveScreen,
        "conversations": lambda: _conversations_screen(),
        "usage": lambda: _usage_screen(),
        "prompts": lambda: _prompts_screen(),  # from the command palette: "Prompts"
    }

    connection: reactive[ConnectionState] = reactive(ConnectionState(Link.CONNECTING))
    # Where to point Claude Code: a guess from the settings until the server says (``/health``).
    proxy_url: var[str] = var("http://127.0.0.1:3000")

    def __init__(
        self,
        client: Source,
        *,
        proxy_url: str = "http://127.0.0.1:3000",
        tz: tzinfo | None = None,
        clock: Callable[[], int] = now_ms,
        page_size: int = PAGE_SIZE,
        follow_feed: bool = True,
        save_dir: Path | None = None,
        start: DeepLink | None = None,
        first_page: FirstPage | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.proxy_url = proxy_url
        self.tz = tz
        self.clock = clock
        self.page_size = page_size
        self.save_dir = save_dir or Path.cwd()
        self.feed = LiveFeed()
        self._follow_feed = follow_feed
        self.start = start
        # The newest requests, fetched while the UI was importing (first_page.prefetch_requests).
        self._first_page = (
            None if start and (start.conversation_id or start.request_id) else first_page
        )
        self._talking = False
        self.feed_signal: Signal[list[LiveEvent]] = Signal(self, "feed")
        self.connected_signal: Signal[bool] = Signal(self, "connected")

    @property
    def server_label(self) -> str:
        return self.client.base_url

    def on_mount(self) -> None:
        start = self.start or DeepLink()
        # A deep link opens over the view it belongs to, so escape lands somewhere familiar.
        self.switch_mode("conversations" if start.conversation_id else "live")
        if start.conversation_id:
            self.open_conversation(start.conversation_id, branch=start.branch)
        elif start.request_id:
            self.open_request(start.request_id)
        self.connected_signal.subscribe(self, lambda _resumed: self.learn_proxy_url())
        if self._first_page is None:
            self.start_talking()
        else:  # the Live screen starts it once the first page is drawn; this is in case it never is
            self.set_timer(1.0, self.start_talking)

    def start_talking(self) -> None:
        """Ask the server where its proxy listens and follow the live feed (once). With a page
        prefetched at launch this waits until that page is drawn: the client's first call imports
        httpx, ~0.1 s of CPU that would otherwise come before the first frame with rows."""
        if self._talking:
            return
        self._talking = True
        self.learn_proxy_url()
        if self._follow_feed:
            self.follow_feed()

    async def take_first_page(
        self, flt: RequestFilter, cursor: str | None
    ) -> Page[RequestSummary] | None:
        """The page prefetched at launch when this call is the one it answers (the newest requests,
        unfiltered), once; None otherwise, or when the prefetch failed (ask the client)."""
        future, self._first_page = self._first_page, None
        if future is None or cursor is not None or flt != RequestFilter():
            return None
        return await asyncio.wrap_future(future)

    @work(exclusive=True, group="health", exit_on_error=False)
    async def learn_proxy_url(self) -> None:
        """Ask the server where its proxy really listens (again on every connect: a restarted
        server may have moved); on no answer the hint keeps its guess."""
        try:
            health = await self.client.health()
        except Exception:
            return
        port = health.get("proxy_port")
        if isinstance(port, int):
            self.proxy_url = url_with_port(self.client.base_url, port)

    # -- live feed ----------------------------------------------------------------------------
    @work(exclusive=True, group="feed", exit_on_error=False)
    async def follow_feed(self) -> None:
        await self.feed.follow(
            self.client,
            on_ready=self._feed_ready,
            on_state=self._set_connection,
            on_connect=self.connected_signal.publish,
        )

    def _feed_ready(self) -> None:
        self.post_message(FeedReady())

    def _set_connection(self, state: ConnectionState) -> None:
        self.connection = state

    def on_feed_ready(self, message: FeedReady) -> None:
        events = self.feed.take()
        if events:
            self.feed_signal.publish(events)

    # -- navigation ---------------------------------------------------------------------------
    def open_request(self, request_id: str) -> None:
        from nexus.tui.screens.request import RequestScreen

        screen = self._reusable("request")
        if isinstance(screen, RequestScreen):
            screen.show(request_id)
            self.push_screen(screen)
        else:
            self._push_kept("request", RequestScreen(request_id))

    def open_conversation(
        self,
        conversation_id: str,
        *,
        focus_request: str | None = None,
        analyze: bool = False,
        branch: str | None = None,
    ) -> None:
        from nexus.tui.screens.conversation import ConversationScreen

        screen = self._reusable("conversation")
        if not isinstance(screen, ConversationScreen):
            screen = ConversationScreen(conversation_id)
        screen.show(conversation_id, focus_request=focus_request, analyze=analyze, branch=branch)
        self._push_kept("conversation", screen)  # a reused screen is installed already

    def share(self, link: DeepLink) -> None:
        """Copy the ``nexus tui …`` line and the API URL of ``link`` (never the key)."""
        from nexus.tui.links import command_line, share_text

        self.copy_to_clipboard(share_text(self.client.base_url, link))
        self.notify(f"copied: {command_line(self.client.base_url, link)}", timeout=6)

    # Detail screens are kept (one per view and kind) and pointed at the next item: composing a
    # screen costs more than loading its data, and opening things must feel instant.
    def _kept_name(self, kind: str) -> str:
        return f"{kind}@{self.current_mode}"

    def _reusable(self, kind: str) -> Screen[None] | None:
        """The kept screen of this kind for the current view, unless it is already on the stack
        (then a fresh one is pushed over it)."""
        name = self._kept_name(kind)
        if not self.is_screen_installed(name):
            return None
        screen = self.get_screen(name)
        return None if screen in self.screen_stack else screen

    def _push_kept(self, kind: str, screen: Screen[None]) -> None:
        name = self._kept_name(kind)
        if not self.is_screen_installed(name):
            self.install_screen(screen, name)
        self.push_screen(screen)

    # -- command palette ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Prompts",
            "The team's prompt library that /mcp serves: list, preview, render",
            lambda: self.switch_mode("prompts"),
        )
        seen: set[str] = set()
        describe = getattr(screen, "binding_label", None)
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            node = active.node
            label = (describe(binding.action) if describe else None) or binding.description

            def run(action: str = binding.action, namespace: object = node) -> None:
                self.call_later(self.run_action, action, namespace)

            yield SystemCommand(label, f"key: {key}", run)

    # -- failures -----------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    def report_worker(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported (screens forward theirs): a notification
        naming what failed in a user's words (workers are named for what they do). The feed
        reports through the connection state instead, and so does a refused key: the top line
        says it once rather than every call repeating it."""
        if event.state is not WorkerState.ERROR or event.worker.group == "feed":
            return
        error = event.worker.error
        if is_refusal(error):
            if self.connection.link is not Link.REFUSED:
                self.connection = ConnectionState(Link.REFUSED, refusal_text(error))  # type: ignore[arg-type]
            return
        detail = str(error) or "an unexpected error"
        self.notify(
            f"{event.worker.name or 'a request to the server'} failed: {detail}", severity="error"
        )


# Imported when first shown: only Live is on the first frame (the chart library alone cost a tenth
# of a cold start).
def _conversations_screen() -> Screen[None]:
    from nexus.tui.screens.conversations import ConversationsScreen

    return ConversationsScreen()


def _usage_screen() -> Screen[None]:
    from nexus.tui.screens.usage import UsageScreen

    return UsageScreen()


def _prompts_screen() -> Screen[None]:
    from nexus.tui.screens.prompts import PromptsScreen

    return PromptsScreen()


def make_app(settings: Settings, client: Source, **options: object) -> NexusApp:
    """The app reading through ``client``. Until the server answers ``/health`` with its real
    proxy port, the empty-store hint guesses the API's host with the proxy port of ``settings``."""
    guess = url_with_port(client.base_url, settings.proxy_port, settings.host)
    return NexusApp(client, proxy_url=guess, **options)  # type: ignore[arg-type]


def url_with_port(api_url: str, port: int, default_host: str = "127.0.0.1") -> str:
    """The API's scheme and host with another port: the proxy listens where the API does."""
    parts = urlsplit(api_url)
    host = parts.hostname or default_host
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or 'http'}://{host}:{port}"
