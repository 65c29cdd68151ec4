"""Deep links: where ``nexus tui --conversation ID [--branch B]`` or ``--request ID`` opens, and
the lines a detail screen copies to share the place it shows (a ``nexus tui …`` command line and
the API URL of the same thing). Pure; the flags are those of ``nexus/cli/tui.py`` (a test parses
the copied line with the CLI to keep the two the same). The API key is never part of a link.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class DeepLink:
    """A place in the TUI: one conversation (optionally one of its branches) or one request."""

    conversation_id: str | None = None
    branch: str | None = None
    request_id: str | None = None


def check_link(link: DeepLink) -> str | None:
    """Why ``link`` cannot be opened, or ``None`` when it can."""
    if link.conversation_id and link.request_id:
        return "open either a conversation or a request, not both"
    if link.branch and not link.conversation_id:
        return "a branch needs the conversation it belongs to (--conversation)"
    return None


def command_line(server_url: str, link: DeepLink) -> str:
    """The ``nexus tui`` command that opens ``link`` on the server at ``server_url``."""
    words = ["nexus", "tui", "--server", server_url]
    if link.conversation_id:
        words += ["--conversation", link.conversation_id]
        if link.branch and link.branch != "main":
            words += ["--branch", link.branch]
    if link.request_id:
        words += ["--request", link.request_id]
    return shlex.join(words)


def api_url(server_url: str, link: DeepLink) -> str:
    """Where the API serves the same thing as JSON."""
    base = server_url.rstrip("/")
    if link.request_id:
        return f"{base}/api/requests/{quote(link.request_id, safe='')}"
    return f"{base}/api/conversations/{quote(link.conversation_id or '', safe='')}"


def share_text(server_url: str, link: DeepLink) -> str:
    """What the copy key puts on the clipboard: the command line, then the API URL."""
    return f"{command_line(server_url, link)}\n{api_url(server_url, link)}\n"
