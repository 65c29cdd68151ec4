"""Export: conversations and requests out of Nexus, for people (markdown, html), programs (jsonl,
json) and HTTP tools (har). Every exporter reads through an ``ExportSource`` (a ``Store`` or the
read-API client), so the same code serves SQLite, Postgres and a remote server."""

from __future__ import annotations

from nexus.conversations.reading import ConversationNotFound
from nexus.export.formats import (
    BranchNotFound,
    ExportFormat,
    ExportOptions,
    ExportUsageError,
    NoProgress,
    Progress,
    check_options,
    run_export,
)
from nexus.export.jsonl import record_from_line, record_to_line
from nexus.export.source import ExportSource, RequestNotFound

__all__ = [
    "BranchNotFound",
    "ConversationNotFound",
    "ExportFormat",
    "ExportOptions",
    "ExportSource",
    "ExportUsageError",
    "NoProgress",
    "Progress",
    "RequestNotFound",
    "check_options",
    "record_from_line",
    "record_to_line",
    "run_export",
]
