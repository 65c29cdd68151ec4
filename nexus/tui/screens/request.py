"""Request detail: one request in tabs — the conversation as chat, the response, headers, usage and
timing, and the raw JSON (foldable, coloured). ``y`` copies it as curl, ``i`` a link to it
(``nexus tui --request ID`` and its API URL), ``s`` saves the exact request body, ``o`` opens its
conversation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import RichLog, Static, TabbedContent, TabPane

from nexus.records import CACHE_CAUSE_LABELS, StoredRequest
from nexus.tui import cells
from nexus.tui.chat import chat_entries
from nexus.tui.curl import curl_command
from nexus.tui.links import DeepLink
from nexus.tui.messages import LoadFailed, RequestLoaded, WireLoaded
from nexus.tui.screens.base import NexusScreen
from nexus.tui.widgets.chat_log import ChatLog
from nexus.tui.widgets.json_tree import JsonTree
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.path_prompt import PathPrompt
from nexus.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp

TABS = ("chat", "response", "headers", "timing", "raw", "wire")
MAX_WIRE_LINES = 5000


def wire_line(line: str) -> Text:
    """One line of the response as received: SSE field names coloured, JSON left as sent."""
    name, sep, value = line.partition(":")
    if sep and name in ("event", "data", "id", "retry"):
        text = Text(name + ":", style="bold cyan" if name == "event" else "blue")
        text.append(value, style="bold" if name == "event" else "")
        return text
    return Text(line)


class RequestScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="request.back"),
        Binding("c", "tab('chat')", "Chat", id="request.chat"),
        Binding("r", "tab('response')", "Response", id="request.response"),
        Binding("h", "tab('headers')", "Headers", id="request.headers"),
        Binding("u", "tab('timing')", "Timing", id="request.timing"),
        Binding("j", "tab('raw')", "JSON", id="request.raw"),
        Binding("w", "tab('wire')", "Wire", id="request.wire"),
        Binding("t", "thinking", "Thinking", id="request.thinking"),
        Binding("x", "toggle_tools", "Hide tools", id="request.tools"),
        Binding("n", "jump('person')", "Next typed", id="request.next_person"),
        Binding(
            "N", "jump('person', False)", "Prev typed", show=False, id="request.previous_person"
        ),
        Binding("g", "jump('tool')", "Next tool", id="request.next_tool"),
        Binding("e", "jump('error')", "First error", show=False, id="request.first_error"),
        Binding("v", "images", "Images", id="request.images"),
        Binding("y", "copy_curl", "Copy as curl", id="request.curl"),
        Binding("s", "save_body", "Save body", id="request.save"),
        Binding("o", "conversation", "Conversation", id="request.conversation"),
        Binding("i", "share", "Copy link", id="request.share"),
    ]

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.stored: StoredRequest | None = None
        self._wire_for: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(f"Request {self.request_id[-12:]}", id="status")
        yield Static(Text("loading…", style="dim"), id="request-head")
        with TabbedContent(id="tabs", initial="chat"):
            with TabPane("Chat", id="chat"):
                yield ChatLog(id="chat-log")
            with TabPane("Response", id="response"):
                yield ChatLog(id="response-log")
            with TabPane("Headers", id="headers"):
                yield VerticalScroll(Static(id="headers-body"))
            with TabPane("Usage & timing", id="timing"):
                yield VerticalScroll(Static(id="timing-body"))
            with TabPane("Raw JSON", id="raw"):
                yield JsonTree("request", id="raw-request")
            with TabPane("Wire", id="wire"):
                yield RichLog(
                    id="wire-log", wrap=False, markup=False, highlight=False, auto_scroll=False
                )
        yield KeyBar(show_app_keys=False)

    def show(self, request_id: str) -> None:
        """Point this (reused) screen at another request; it loads again."""
        self.request_id = request_id
        if self.is_mounted:
            self.stored = None
            self.query_one(StatusBar).title = f"Request {request_id[-12:]}"
            self.query_one("#request-head", Static).update(Text("loading…", style="dim"))
            for log in self.query(ChatLog):
                log.clear()
            self.query_one(TabbedContent).active = "chat"
            self.load()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="request", exit_on_error=False, name="loading the request")
    async def load(self) -> None:
        try:
            stored = await self.nexus.client.get_request(self.request_id)
        except Exception as exc:
            self.post_message(LoadFailed(f"request {self.request_id}", str(exc)))
            return
        if stored is None:
            self.post_message(
                LoadFailed(f"request {self.request_id}", "the server has no such request")
            )
            return
        self.post_message(RequestLoaded(stored))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#request-head", Static).update(
            Text(f"could not load {message.what}: {message.error}", style="bold red")
        )

    def on_request_loaded(self, message: RequestLoaded) -> None:
        if message.stored.summary.id != self.request_id:
            return  # an answer for the request this screen showed before
        stored = self.stored = message.stored
        s = stored.summary
        self.query_one("#request-head", Static).update(head_text(stored, self.nexus))
        entries = chat_entries(stored.request_body, stored.response_message)
        self.query_one("#chat-log", ChatLog).show(entries)
        response = [e for e in entries if e.is_response]
        footer: list[Text] = []
        if s.error:
            footer.append(Text(f"error: {s.error}", style="bold red"))
        if s.stop_reason:
            footer.append(Text(f"\nstop reason: {s.stop_reason}", style="dim"))
        self.query_one("#response-log", ChatLog).show(response, footer=footer)
        self.query_one("#headers-body", Static).update(headers_table(stored))
        self.query_one("#timing-body", Static).update(timing_table(stored, self.nexus))
        tree = self.query_one("#raw-request", JsonTree)
        tree.load(_document(stored))

    # -- actions ------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_thinking(self) -> None:
        for log in self.query(ChatLog):
            log.toggle_thinking()

    def action_toggle_tools(self) -> None:
        for log in self.query(ChatLog):
            log.toggle_tools()
        hidden = self.query_one("#chat-log", ChatLog).hide_tools
        self.refresh_bindings()  # the key bar's label flips
        self.notify("tool calls and results hidden" if hidden else "tool calls shown", timeout=3)

    def binding_label(self, action: str) -> str | None:
        """The key bar's label of a toggle, saying what pressing it does now."""
        if action == "toggle_tools" and self.is_mounted:
            return "Show tools" if self.query_one("#chat-log", ChatLog).hide_tools else None
        return None

    def action_jump(self, kind: str, forward: bool = True) -> None:
        """Move the chat (or the response) to the next / previous message a person typed, the next
        tool call, or the first failed tool call."""
        tabs = self.query_one(TabbedContent)
        if tabs.active not in ("chat", "response"):
            tabs.active = "chat"
        log = self.query_one(f"#{tabs.active}-log", ChatLog)
        if kind == "error":
            found = log.jump("error", first=True)
        elif kind == "tool":
            found = log.jump("tool", "error")
        else:
            found = log.jump("person", forward=forward)
        if not found:
            what = {"person": "typed message", "tool": "tool call", "error": "failed tool call"}
            way = "" if kind == "error" else (" below" if forward else " above")
            self.notify(f"no {what[kind]}{way}", timeout=3)

    def action_images(self) -> None:
        """The request's images at full size, in the terminal's best graphics."""
        from nexus.tui.images import learn_graphics, picture
        from nexus.tui.screens.image_view import ImageScreen

        log = self.query_one("#chat-log", ChatLog)
        found = [picture(block) for entry in log.entries for block in entry.images]
        drawable = [p for p in found if p is not None and p.image is not None]
        if not drawable:
            self.notify("no image in this request that can be drawn", timeout=3)
            return
        learn_graphics(self.app)
        self.app.push_screen(ImageScreen(drawable))

    def action_copy_curl(self) -> None:
        if self.stored is None:
            return
        command = curl_command(self.stored)
        self.app.copy_to_clipboard(command)
        self.notify(f"copied as curl ({len(command):,} chars); credentials are $ANTHROPIC_API_KEY")

    def action_share(self) -> None:
        self.nexus.share(DeepLink(request_id=self.request_id))

    def action_save_body(self) -> None:
        default = self.nexus.save_dir / f"nexus-request-{self.request_id}.json"

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.save_body(path)

        self.app.push_screen(PathPrompt("Save the exact request body to:", default), chosen)

    @work(exclusive=True, group="save", exit_on_error=False, name="saving the request body")
    async def save_body(self, path: Path) -> None:
        body = await self.nexus.client.raw_request_body(self.request_id)
        await asyncio.to_thread(path.write_bytes, body)
        self.notify(f"saved {len(body):,} bytes to {path}")

    def action_conversation(self) -> None:
        if self.stored is None:
            return
        conv = self.stored.summary.conversation_id
        if conv is None:
            self.notify("this request is not part of a conversation", severity="warning")
            return
        self.nexus.open_conversation(conv, focus_request=self.request_id)

    @work(exclusive=True, group="wire", exit_on_error=False, name="loading the response bytes")
    async def load_wire(self, request_id: str) -> None:
        body = await self.nexus.client.raw_response_body(request_id)
        self.post_message(WireLoaded(request_id, body))

    def on_wire_loaded(self, message: WireLoaded) -> None:
        if message.request_id != self.request_id:
            return
        log = self.query_one("#wire-log", RichLog)
        log.clear()
        lines = message.body.decode("utf-8", "replace").splitlines()
        for line in lines[:MAX_WIRE_LINES]:
            log.write(wire_line(line))
        if len(lines) > MAX_WIRE_LINES:
            log.write(
                Text(
                    f"… {len(lines) - MAX_WIRE_LINES:,} more lines (s saves the request; "
                    "GET /api/requests/<id>/sse has them all)",
                    style="dim",
                )
            )
        self._wire_for = message.request_id

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        active = self.query_one(TabbedContent).active
        if active == "wire" and self._wire_for != self.request_id:
            self.load_wire(self.request_id)
        # The tab's content takes the keys, so arrows and page keys scroll what is shown (the
        # Usage and Headers tabs overflow at 80×24): its first focusable widget (a log, a tree,
        # or the scroll area holding a table).
        pane = self.query_one(TabbedContent).get_pane(active)
        for widget in pane.query("*"):
            if widget.focusable:
                widget.focus()
                break


def _document(stored: StoredRequest) -> Any:
    try:
        request: Any = orjson.loads(stored.request_body) if stored.request_body else None
    except orjson.JSONDecodeError:
        request = stored.request_body.decode("utf-8", "replace")
    response: Any = None
    if stored.response_message:
        try:
            response = orjson.loads(stored.response_message)
        except orjson.JSONDecodeError:
            response = None
    return {"request": request, "response": response}


def head_text(stored: StoredRequest, app: NexusApp) -> Text:
    s = stored.summary
    text = Text(" ")
    text.append(f"{s.method} {s.path} ", style="bold")
    text.append_text(cells.status_text(s))
    text.append("  ")
    text.append(cells.short_model(s.model), style="bold")
    text.append("  ")
    text.append_text(cells.class_text(s.traffic_class))
    # Money and size first: on a narrow terminal each line is cut at its end (never wrapped), so
    # what goes last (the time, the host) is what gives way.
    text.append(f"  {cells.tokens(s.usage.total_tokens)} tok  {cells.cost(s.cost_usd_micros)}")
    text.append(f"  {cells.duration(s.duration_ms)}")
    text.append(f"  {cells.stamp(s.started_at_ms, app.tz)}", style="dim")
    text.append("\n ")
    if s.conversation_id:
        text.append_text(cells.conversation_marker(s.conversation_id, s.branch))
        text.append(f"  conversation {s.conversation_id}", style="dim")
    else:
        text.append("no conversation", style="dim")
    text.append(f"\n request {s.id}", style="dim")  # the full id: what --request and the API take
    if s.client_key_id:  # the person (a named key) or the key's id; never the key itself
        text.append(f"  by {s.client_key_id}", style="dim")
    text.append(f"  account {s.account_id or '–'}  host {s.host}", style="dim")
    if s.cache_break is not None:  # cut like the rest: the cause first, the Usage tab has it all
        text.append("\n ")
        text.append_text(cells.cache_break_text(s))
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def headers_table(stored: StoredRequest) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("header", style="bold blue", overflow="fold", ratio=2)
    table.add_column("value", overflow="fold", ratio=5)
    for title, headers in (
        ("request", stored.request_headers),
        ("response", stored.response_headers),
        ("rate limits", stored.ratelimit),
    ):
        table.add_row(Text(f"── {title} ──", style="bold magenta"), "")
        for name, value in headers:
            table.add_row(Text(name), Text(value))
        if not headers:
            table.add_row(Text("(none)", style="dim"), "")
    return table


# How a call was authenticated upstream, in the banner's words rather than the stored value.
AUTH_WORDS = {
    "passthrough": "pass-through (the client's own key)",
    "api_key": "team API key",
    "oauth": "team OAuth token",
}


def timing_table(stored: StoredRequest, app: NexusApp) -> Table:
    s = stored.summary
    u = s.usage
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, str]] = [
        ("input tokens", f"{u.input_tokens:,}"),
        ("cache write (5m)", f"{u.cache_creation_5m_tokens:,}"),
        ("cache write (1h)", f"{u.cache_creation_1h_tokens:,}"),
        ("cache write (all)", f"{u.cache_creation_input_tokens:,}"),
        ("cache read", f"{u.cache_read_input_tokens:,}"),
        ("output tokens", f"{u.output_tokens:,}"),
        ("context (input + cache)", f"{u.context_tokens:,}"),
        (
            "cost",
            cells.cost(s.cost_usd_micros) if s.cost_usd_micros is not None else cells.UNPRICED,
        ),
        ("", ""),
        ("started", cells.stamp(s.started_at_ms, app.tz)),
        ("time to first byte", cells.duration(s.ttfb_ms)),
        ("duration", cells.duration(s.duration_ms)),
    ]
    if s.duration_ms and u.output_tokens:
        generating_ms = s.duration_ms - (s.ttfb_ms or 0)
        if generating_ms > 0:
            rows.append(("output speed", f"{u.output_tokens * 1000 / generating_ms:.1f} tok/s"))
    rows += [
        ("streaming", "yes" if s.is_streaming else "no"),
        ("stop reason", s.stop_reason or "–"),
        ("upstream request id", s.upstream_request_id or "–"),
        ("session", s.session_id or "–"),
        ("agent", s.agent_id or "–"),
        ("auth", AUTH_WORDS.get(stored.auth_mode, stored.auth_mode)),
        (
            "messages / tools / tool uses",
            f"{s.message_count} / {s.tool_count} / {s.tool_use_count}",
        ),
    ]
    brk = s.cache_break
    if brk is not None:
        lost = brk.excess_cost_usd_micros
        rows += [
            ("", ""),
            ("cache break", CACHE_CAUSE_LABELS.get(brk.cause, str(brk.cause))),
            ("why", brk.detail or "–"),
            ("tokens written again", f"{brk.missed_tokens:,}"),
            ("excess cost", cells.cost(lost) if lost is not None else cells.UNPRICED),
        ]
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    return table
