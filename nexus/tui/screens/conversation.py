"""One conversation: its tree (branches, compactions and sub-agents nested; enter opens a request),
its timeline, its numbers (with a Cache section from the cache ledger), and its AI analysis (``a``
starts one, ``A`` runs it again with the built-in prompt or a prompt file; the panel fills in when
the live feed says the job changed). The header carries the
context gauge: the latest turn's context against the window (200k, or 1M when that turn used the
context-1m beta), and the full id; ``i`` copies a link to the conversation and the branch under
the cursor (``nexus tui --conversation ID --branch B`` and the API URL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from nexus.conversations.shape import branch_lineage, only_branches
from nexus.errors import ApiError
from nexus.numbers import counted
from nexus.records import ConversationTree, LiveEvent, RequestFilter
from nexus.tui.links import DeepLink
from nexus.tui.messages import AnalysisChanged, ConversationLoaded, LoadFailed
from nexus.tui.screens.base import NexusScreen
from nexus.tui.shape import analysis_basis, is_prompt, numbers
from nexus.tui.widgets.analysis_panel import AnalysisPanel, start_job
from nexus.tui.widgets.cache_view import LATEST_BREAKS, cache_section
from nexus.tui.widgets.conversation_head import conversation_head, uses_1m_beta
from nexus.tui.widgets.conversation_tree import ConversationTreeView
from nexus.tui.widgets.key_bar import KeyBar
from nexus.tui.widgets.prompt_chooser import PromptChooser
from nexus.tui.widgets.status_bar import StatusBar
from nexus.tui.widgets.timeline import numbers_view, timeline

if TYPE_CHECKING:
    pass


class ConversationScreen(NexusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="conversation.back"),
        Binding("t", "tab('tree')", "Tree", id="conversation.tree"),
        Binding("l", "tab('timeline')", "Timeline", id="conversation.timeline"),
        Binding("n", "tab('numbers')", "Numbers", id="conversation.numbers"),
        Binding("v", "tab('analysis')", "View analysis", id="conversation.view_analysis"),
        Binding("a", "analyze", "Analyze", id="conversation.analyze"),
        Binding("A", "reanalyze", "Re-run analysis", show=False, id="conversation.reanalyze"),
        Binding("b", "toggle_background", "Background calls", id="conversation.background"),
        Binding("f", "branch_filter", "Branch filter", id="conversation.branch_filter"),
        Binding("right_square_bracket", "prompt(1)", "Next prompt", id="conversation.next_prompt"),
        Binding(
            "left_square_bracket",
            "prompt(-1)",
            "Prev prompt",
            show=False,
            id="conversation.previous_prompt",
        ),
        Binding("r", "reload", "Reload", id="conversation.reload"),
        Binding("i", "share", "Copy link", id="conversation.share"),
    ]

    def __init__(self, conversation_id: str) -> None:
        """A screen for ``conversation_id``; ``show`` says where to focus (and points it at
        another conversation later)."""
        super().__init__()
        self.conversation_id = conversation_id
        self.focus_request: str | None = None
        self.focus_branch: str | None = None
        self.conv_tree: ConversationTree | None = None
        self.with_background = True
        # (mode, branch): "lineage" shows the branch with what it grew from, "only" just it
        self.branch_filter: tuple[str, str] | None = None
        self.is_1m = False
        self._analyze_on_load = False
        self.prompt_file = ""  # the last prompt file chosen for a re-run ("" the built-in one)
        self.drawn = False
        self._drawn_tabs: set[str] = set()

    def show(
        self,
        conversation_id: str,
        *,
        focus_request: str | None = None,
        analyze: bool = False,
        branch: str | None = None,
    ) -> None:
        """Point this screen at a conversation (a reused one loads again)."""
        self.conversation_id = conversation_id
        self.focus_request = focus_request
        self.focus_branch = branch
        self._analyze_on_load = analyze
        if self.is_mounted:
            self._start()

    def compose(self) -> ComposeResult:
        yield StatusBar(f"Conversation {self.conversation_id[-8:]}", id="status")
        yield Static(Text(" loading…", style="dim"), id="conversation-head")
        with TabbedContent(id="tabs", initial="tree"):
            with TabPane("Tree", id="tree"):
                yield ConversationTreeView(id="conversation-tree", tz=self.nexus.tz)
            with TabPane("Timeline", id="timeline"):
                yield VerticalScroll(Static(id="timeline-body"), id="timeline-scroll")
            with TabPane("Numbers", id="numbers"):
                yield VerticalScroll(
                    Static(id="numbers-body"), Static(id="numbers-cache"), id="numbers-scroll"
                )
            with TabPane("Analysis", id="analysis"):
                yield AnalysisPanel(id="analysis-panel")
        yield KeyBar(show_app_keys=False)

    def on_mount(self) -> None:
        self.nexus.feed_signal.subscribe(self, self.on_feed)
        self._start()

    def _start(self) -> None:
        if self.drawn:  # a reused screen: forget the previous conversation
            self.conv_tree, self.drawn, self.is_1m = None, False, False
            self.branch_filter = None
            self.query_one(StatusBar).title = f"Conversation {self.conversation_id[-8:]}"
            self.query_one("#conversation-head", Static).update(Text(" loading…", style="dim"))
            self.query_one(ConversationTreeView).clear()
            self.query_one(AnalysisPanel).reset()
            self.query_one("#numbers-cache", Static).update("")
            self.query_one(TabbedContent).active = "tree"
        self.load()
        if self._analyze_on_load:
            self.action_analyze()
        else:
            self.load_analysis()

    # -- loading ------------------------------------------------------------------------------
    @work(
        exclusive=True, group="conversation", exit_on_error=False, name="loading the conversation"
    )
    async def load(self) -> None:
        client = self.nexus.client
        try:
            tree = await client.get_conversation(self.conversation_id)
        except Exception as exc:
            self.post_message(LoadFailed(f"conversation {self.conversation_id}", str(exc)))
            return
        if tree is None:
            what = f"conversation {self.conversation_id}"
            self.post_message(LoadFailed(what, "the server has no such conversation"))
            return
        self.post_message(ConversationLoaded(tree))
        # The window depends on a header of the latest turn: read it after the tree is drawn.
        latest = tree.summary.latest_turn_id
        if latest:
            try:
                stored = await client.get_request(latest)
            except Exception:
                return  # the gauge keeps its 200k assumption
            if stored is not None and uses_1m_beta(stored.request_headers):
                self.post_message(ConversationLoaded(tree, uses_1m_beta=True))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#conversation-head", Static).update(
            Text(f" could not load {message.what}: {message.error}", style="bold red")
        )

    def on_conversation_loaded(self, message: ConversationLoaded) -> None:
        if message.tree.summary.id != self.conversation_id:
            return  # an answer for the conversation this screen showed before
        self.conv_tree = message.tree
        self.is_1m = self.is_1m or message.uses_1m_beta
        self._draw_head()
        if message.uses_1m_beta and self.drawn:
            return
        self._draw()

    def _draw_head(self) -> None:
        if self.conv_tree is not None:
            head = conversation_head(self.conv_tree, self.nexus, self.is_1m, self.size.width)
            self.query_one("#conversation-head", Static).update(head)

    def on_resize(self) -> None:
        self._draw_head()

    @property
    def shown_tree(self) -> ConversationTree | None:
        """The conversation as the branch filter leaves it (all of it without a filter)."""
        tree = self.conv_tree
        if tree is None or self.branch_filter is None:
            return tree
        mode, name = self.branch_filter
        names = {name} if mode == "only" else set(branch_lineage(tree, name))
        return only_branches(tree, names)

    def _draw(self) -> None:
        tree = self.shown_tree
        if tree is None:
            return
        view = self.query_one(ConversationTreeView)
        keep = view.cursor_request_id if self.drawn else self.focus_request
        if not self.drawn and keep is None and self.focus_branch:
            keep = self._branch_start(tree, self.focus_branch)
        view.draw(tree, with_background=self.with_background)
        if keep:
            view.focus_request(keep)
        if not view.has_focus and self.query_one(TabbedContent).active == "tree":
            view.focus()
        self._drawn_tabs = set()
        self._draw_tab()
        info = Text(counted(len(tree.nodes), "request"))
        if not self.with_background:
            info.append(" (background hidden)")
        if self.branch_filter is not None and self.conv_tree is not None:
            mode, name = self.branch_filter
            shown = name if mode == "only" else " + ".join(branch_lineage(self.conv_tree, name))
            info.append(" │ branches: ", style="dim")
            info.append(shown, style="bold magenta")
            info.append(" (f: next)", style="dim")
        self.query_one(StatusBar).info = info
        self.drawn = True

    def _draw_tab(self) -> None:
        """Timeline and numbers are drawn when their tab is first shown (they cost as much as the
        tree on a long conversation, and most visits only look at the tree)."""
        tree, tab = self.shown_tree, self.query_one(TabbedContent).active
        if tree is None or tab in self._drawn_tabs:
            return
        if tab == "timeline":
            self.query_one("#timeline-body", Static).update(
                timeline(tree, self.nexus.tz, with_background=False)
            )
        elif tab == "numbers":
            self.query_one("#numbers-body", Static).update(numbers_view(numbers(tree)))
            self.load_cache(self.conversation_id)
        self._drawn_tabs.add(tab)

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self._draw_tab()
        # Keys keep working on the new tab: focus what it shows (a hidden tree cannot hold it).
        focus = {
            "tree": "#conversation-tree",
            "timeline": "#timeline-scroll",  # arrows and page keys scroll a long one
            "numbers": "#numbers-scroll",
            "analysis": "#analysis-panel",
        }.get(self.query_one(TabbedContent).active)
        if focus is not None and not self.query_one(focus).has_focus:
            self.query_one(focus).focus()

    @work(exclusive=True, group="cache", exit_on_error=False, name="loading the cache ledger")
    async def load_cache(self, conversation_id: str) -> None:
        """The Numbers tab's Cache section: the whole conversation's ledger (no branch filter)."""
        section, flt = (
            self.query_one("#numbers-cache", Static),
            RequestFilter(conversation_id=conversation_id),
        )
        try:
            doc = await self.nexus.client.cache("cause", flt=flt, limit=LATEST_BREAKS)
        except Exception as exc:
            section.update(Text(f"\ncould not load the cache ledger: {exc}", style="bold red"))
            return
        if conversation_id == self.conversation_id:
            section.update(Group(Text(""), cache_section(doc, self.nexus.tz)))

    def on_feed(self, events: list[LiveEvent]) -> None:
        panel = self.query_one(AnalysisPanel)
        for event in events:
            if (
                event.kind == "analysis"
                and panel.job_id is not None
                and event.ref_id == panel.job_id
            ):
                self.load_analysis()
            elif (
                event.summary is not None and event.summary.conversation_id == self.conversation_id
            ):
                self.load()

    # -- analysis -----------------------------------------------------------------------------
    @work(exclusive=True, group="analysis", exit_on_error=False, name="loading the analysis")
    async def load_analysis(self) -> None:
        try:
            prompt = self.query_one(AnalysisPanel).prompt_version  # the one shown, if any
            job = await self.nexus.client.get_analysis(self.conversation_id, self._branch(), prompt)
        except ApiError as exc:
            if exc.status != 404:
                self.query_one(AnalysisPanel).show_message(str(exc))
            return
        self.post_message(AnalysisChanged(job))

    @work(exclusive=True, group="analysis", exit_on_error=False, name="starting the analysis")
    async def start_analysis(self, branch: str, force: bool = False, file: str = "") -> None:
        panel = self.query_one(AnalysisPanel)
        again = " again" if force else ""
        panel.show_message(f"asking the server to analyse branch {branch}{again}…", is_error=False)
        try:
            job = await start_job(self.nexus.client, self.conversation_id, branch, force=force,
                                  prompt_file=Path(file) if file else None)  # fmt: skip
        except Exception as exc:
            panel.show_message(str(exc))
            return
        self.post_message(AnalysisChanged(job))

    def on_analysis_changed(self, message: AnalysisChanged) -> None:
        job = message.job
        basis = None
        if self.conv_tree is not None and job.get("started_at_ms"):
            basis = analysis_basis(self.conv_tree, str(job.get("branch") or "main"), job)
        self.query_one(AnalysisPanel).show_job(job, basis=basis, tz=self.nexus.tz)

    def action_analyze(self, force: bool = False) -> None:
        """Analyse the branch under the cursor; ``A`` (``force``) runs it again even when a
        result exists (the branch grew since, or a better answer is wanted)."""
        self.query_one(TabbedContent).active = "analysis"
        self.start_analysis(self._branch(), force)

    def action_reanalyze(self) -> None:
        """``A``: run it again (forced), choosing the prompt: the built-in one or a file."""

        def chosen(file: str | None) -> None:
            if file is not None:
                self.prompt_file = file
                self.query_one(TabbedContent).active = "analysis"
                self.start_analysis(self._branch(), True, file)

        self.app.push_screen(PromptChooser(self._branch(), self.prompt_file), chosen)

    def _branch(self) -> str:
        node = self.query_one(ConversationTreeView).cursor_node
        row: Any = node.data if node is not None else None
        return str(row.branch) if row is not None and row.branch else "main"

    def _branch_start(self, tree: ConversationTree, name: str) -> str | None:
        branch = next((b for b in tree.branches if b.name == name), None)
        if branch is None:
            known = ", ".join(b.name for b in tree.branches)
            self.notify(f"this conversation has no branch {name!r} (it has {known})", timeout=8)
            return None
        return branch.first_request_id

    # -- actions ------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_share(self) -> None:
        branch = self._branch() if self.conv_tree is not None else self.focus_branch
        self.nexus.share(DeepLink(conversation_id=self.conversation_id, branch=branch))

    def action_toggle_background(self) -> None:
        self.with_background = not self.with_background
        self._draw()

    def action_reload(self) -> None:
        self.load()

    def action_branch_filter(self) -> None:
        """Cycle: the branch under the cursor with what it grew from → that branch alone → every
        branch. On the main line the first step shows main alone."""
        tree = self.conv_tree
        if tree is None:
            return
        branch = self._branch()
        if self.branch_filter is None:
            lineage = branch_lineage(tree, branch)
            self.branch_filter = ("only" if len(lineage) <= 1 else "lineage", branch)
        elif self.branch_filter[0] == "lineage":
            self.branch_filter = ("only", self.branch_filter[1])
        else:
            self.branch_filter = None
        self._draw()

    def action_prompt(self, step: int) -> None:
        """The next / previous turn a person typed (turns carrying tool results are skipped)."""
        tree = self.conv_tree
        if tree is None:
            return
        self.query_one(TabbedContent).active = "tree"
        by_id = {r.id: r for r in tree.nodes}
        if not self.query_one(ConversationTreeView).jump(lambda r: is_prompt(r, by_id), step):
            self.notify(f"no prompt {'below' if step > 0 else 'above'}", timeout=3)

    @on(ConversationTreeView.RequestChosen)
    def _open(self, message: ConversationTreeView.RequestChosen) -> None:
        self.nexus.open_request(message.row.id)
