"""Which formats exist, what each needs, and ``run_export``: the one entry point the CLI calls.

Stream formats (jsonl, har) take any filter and read page by page; conversation formats (json,
markdown, html) need one conversation id and render its tree. This module owns that split and the
errors for asking the wrong thing (no conversation id, an unknown branch); it does not parse flags
or open sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from nexus.conversations.reading import load_conversation
from nexus.conversations.shape import ConversationView, branch_names, build_view, select_branch
from nexus.errors import NexusError
from nexus.export.har import write_har
from nexus.export.html import write_html
from nexus.export.json_tree import write_json
from nexus.export.jsonl import write_jsonl
from nexus.export.markdown import write_markdown
from nexus.export.source import ExportSource, count_or_none, with_conversation
from nexus.records import ConversationTree, Page, RequestFilter, RequestSummary, StoredRequest

WriteBytes = Callable[[bytes], object]


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    HAR = "har"

    @property
    def needs_conversation(self) -> bool:
        return self in (ExportFormat.JSON, ExportFormat.MARKDOWN, ExportFormat.HTML)


class ExportUsageError(NexusError):
    """This export cannot be run with these options."""


class BranchNotFound(NexusError):
    """No such branch in this conversation."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    format: ExportFormat = ExportFormat.JSONL
    conversation_id: str | None = None
    branch: str | None = None
    filter: RequestFilter = RequestFilter()


class Progress(Protocol):
    """What ``run_export`` reports: a total once known (None: unknown), then the count done."""

    def start(self, total: int | None) -> None: ...

    def advance(self, done: int) -> None: ...


class NoProgress:
    def start(self, total: int | None) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


class _CountingSource:
    """Passes reads through and reports each full record fetched (the unit of slow work)."""

    def __init__(self, inner: ExportSource, progress: Progress) -> None:
        self._inner = inner
        self._progress = progress
        self._done = 0

    async def list_requests(
        self, flt: RequestFilter, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]:
        return await self._inner.list_requests(flt, cursor, limit)

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None:
        return await self._inner.get_conversation(conversation_id)

    async def get_request(self, request_id: str) -> StoredRequest | None:
        record = await self._inner.get_request(request_id)
        self._done += 1
        self._progress.advance(self._done)
        return record


def check_options(options: ExportOptions) -> None:
    if options.format.needs_conversation and options.conversation_id is None:
        raise ExportUsageError(
            f"--format {options.format} exports one conversation: pass --conversation ID"
        )
    if options.branch is not None and options.conversation_id is None:
        raise ExportUsageError("--branch needs --conversation ID")


async def load_view(source: ExportSource, options: ExportOptions) -> ConversationView:
    assert options.conversation_id is not None
    nodes, branches = await load_conversation(source, options.conversation_id)
    view = build_view(options.conversation_id, nodes, branches)
    if options.branch is None:
        return view
    try:
        return select_branch(view, options.branch)
    except KeyError:
        names = ", ".join(branch_names(view))
        raise BranchNotFound(
            f"branch {options.branch!r} not in conversation {view.id} (branches: {names})"
        ) from None


async def run_export(
    source: ExportSource,
    options: ExportOptions,
    write: WriteBytes,
    progress: Progress | None = None,
) -> int:
    """Write the export; returns how many requests it covered."""
    check_options(options)
    progress = progress or NoProgress()
    fmt = options.format
    if not fmt.needs_conversation:
        flt = with_conversation(options.filter, options.conversation_id)
        progress.start(None if options.branch else await count_or_none(source, flt))
        writer = write_jsonl if fmt is ExportFormat.JSONL else write_har
        return await writer(source, flt, write, branch=options.branch, on_progress=progress.advance)
    view = await load_view(source, options)
    progress.start(len(view.all_turns()))
    counted = _CountingSource(source, progress)
    if fmt is ExportFormat.JSON:
        await write_json(counted, view, write, branch=options.branch)
    else:
        render = write_markdown if fmt is ExportFormat.MARKDOWN else write_html
        await render(counted, view, lambda text: write(text.encode("utf-8")), branch=options.branch)
    return len(view.requests) + len(view.background)
