"""Where the export applies ``nexus.redact`` (the one place that decides what a secret looks like).

Headers arrive redacted from the store; every format re-checks them: a header whose name says it
holds a credential is replaced, and key-shaped strings in other values are scrubbed. The human and
HTTP-tool formats (markdown, html, json, har) also scrub every text they write. jsonl keeps bodies
byte-identical and does not scrub them (see docs/export.md for that trade-off); its query and error
text are scrubbed like everywhere else.
"""

from __future__ import annotations

from nexus.records import Headers
from nexus.redact import REDACTED, redact_headers, redact_query, redact_text

__all__ = ["REDACTED", "scrub_headers", "scrub_query", "scrub_text"]


def scrub_text(text: str) -> str:
    """``text`` with API keys, client keys and bearer tokens replaced by a marker."""
    return redact_text(text)


def scrub_headers(headers: Headers) -> Headers:
    """Headers safe to export: credential headers replaced outright, others scrubbed."""
    return tuple((name, redact_text(value)) for name, value in redact_headers(headers))


def scrub_query(query: str) -> str:
    """A query string with credential parameters (by name, value or key shape) replaced."""
    return redact_query(query)
