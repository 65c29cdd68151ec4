"""The one place secrets are taken out: header values by name, query parameters by name, and, in
any text, every secret value Nexus knows plus key-shaped strings.

Every layer that writes or shows something a secret could be in (proxy records and the spool,
logs, the proxy's own error answers, exports, analysis input, API output) calls these; nothing
else decides what a secret looks like. Two rules, applied together:

- by name: a header or query parameter whose name says it carries a credential (``x-api-key``,
  ``authorization``, ``cookie``/``set-cookie``, anything with key, token, secret, password, auth,
  credential in it) is replaced whole;
- by value: the secrets this process holds (credential files' keys and tokens, the dashboard and
  Gemini keys: ``remember_secrets``), the values of the request's own credential headers, and
  key-shaped strings (``sk-ant-…``, ``cnp_live_…``, ``Bearer …``, ``Basic …``, Google, GitHub,
  Slack keys) are replaced wherever they appear: other headers, queries, error texts, log lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote_plus

from nexus.records import Headers

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8
"""Known values shorter than this are not searched for: they would match ordinary text."""
_MAX_KNOWN = 4096
_SECRET_HEADERS = frozenset(
    {
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-dashboard-key",
        "anthropic-admin-key",
    }
)
_SECRET_NAME = re.compile(
    r"(key|token|secret|passw|credential|auth|cookie|signature|session-token)", re.IGNORECASE
)
_KEEP = frozenset(
    {"x-claude-code-session-id", "anthropic-ratelimit-input-tokens-limit", "www-authenticate"}
)
_SECRET_TEXT = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}|cnp_live_[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{20,}"
    r"|(?i:(?<=bearer )|(?<=basic ))[A-Za-z0-9._~+/\-]{16,}=*"
    r"|AIza[0-9A-Za-z_\-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}"
)

_known: dict[str, None] = {}  # insertion-ordered set, oldest first
_text_pattern = _SECRET_TEXT  # the shapes, and every remembered value (rebuilt when one is added)


def remember_secrets(*values: str | None) -> None:
    """Add secrets this process holds, so text holding them is redacted wherever it goes."""
    global _text_pattern
    added = False
    for value in values:
        if value and len(value) >= MIN_SECRET_CHARS and value not in _known:
            _known[value] = None
            added = True
    if not added:
        return
    while len(_known) > _MAX_KNOWN:  # an old refreshed token: the oldest go first
        del _known[next(iter(_known))]
    longest_first = sorted(_known, key=len, reverse=True)
    _text_pattern = re.compile("|".join([*map(re.escape, longest_first), _SECRET_TEXT.pattern]))


@lru_cache(maxsize=4096)
def is_secret_header(name: str) -> bool:
    lname = name.lower()
    if lname in _SECRET_HEADERS:
        return True
    if lname.startswith("anthropic-ratelimit-") or lname in _KEEP:
        return False
    return bool(_SECRET_NAME.search(lname))


def secret_values(headers: Headers) -> tuple[str, ...]:
    """The credentials a request carries (its secret headers' values, ``Bearer`` taken off),
    to redact wherever else the same request repeats them."""
    found: list[str] = []
    for name, value in headers:
        if value and is_secret_header(name):
            scheme, _, rest = value.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic"):
                found.append(rest.strip())
            found.append(value)
    return tuple(v for v in found if len(v) >= MIN_SECRET_CHARS)


def redact_headers(headers: Headers, also: Iterable[str] = ()) -> Headers:
    """Credential headers replaced whole; secrets and key shapes scrubbed from the others."""
    return tuple(
        (k, REDACTED if is_secret_header(k) else redact_text(v, also=also)) for k, v in headers
    )


def redact_query(query: str, also: Iterable[str] = ()) -> str:
    """A raw query string with credential parameters (by name or by value) set to the marker.
    Other parameters keep their exact bytes."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        plain_name, plain_value = unquote_plus(name), unquote_plus(value)
        if value and is_secret_header(plain_name.replace("_", "-")):
            part = f"{name}{eq}{REDACTED}"
        elif redact_text(plain_value, also=also) != plain_value:
            part = f"{name}{eq}{REDACTED}"
        elif redact_text(plain_name, also=also) != plain_name:
            part = REDACTED
        parts.append(part)
    return "&".join(parts)


def redact_text(text: str, *, also: Iterable[str] = ()) -> str:
    """``text`` with remembered secrets, the ``also`` values and key shapes replaced by a marker."""
    if not text:
        return text
    for value in also:
        if value in text:
            text = text.replace(value, REDACTED)
    return _text_pattern.sub(REDACTED, text)


class LogRedaction(logging.Filter):
    """A handler filter: every log line goes out through ``redact_text``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
