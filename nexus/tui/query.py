"""The filter bar's help, and the one filter's language as the TUI uses it.

Parsing ``model:opus status:5xx class:turn q:"migration"`` into a filter, its inverse and whether a
live row matches are ``nexus.filters``' (the same rules the server applies); this module adds what
only the bar needs: the help line naming an example of each key the view honours.
"""

from __future__ import annotations

from collections.abc import Mapping

from nexus.filters import Query, QueryError, describe, parse_query
from nexus.filters import row_matches as matches

__all__ = ["HELP", "Query", "QueryError", "describe", "help_text", "matches", "parse_query"]

_EXAMPLES = {
    "model": "model:opus",
    "status": "status:5xx",
    "traffic_class": "class:turn",
    "host": "host:",
    "account_id": "account:",
    "session_id": "session:",
    "conversation_id": "conv:",
    "since_ms": "since:2h",
    "text": 'q:"text"',
}


def help_text(unsupported: Mapping[str, str] | None = None) -> str:
    """The bar's help line: an example of each key the view honours."""
    return " ".join(v for k, v in _EXAMPLES.items() if k not in (unsupported or {}))


HELP = help_text()
