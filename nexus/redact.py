"""The one place secrets are taken out: header values by name, and key-shaped strings in text.

Every layer that writes or shows something a secret could be in (proxy records, logs, exports,
analysis input, API output) calls these; nothing else decides what a secret looks like.
"""

from __future__ import annotations

import re

from nexus.records import Headers

REDACTED = "[redacted]"
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
_SECRET_NAME = re.compile(r"(key|token|secret|password|session-token|credential)", re.IGNORECASE)
_KEEP = frozenset({"x-claude-code-session-id", "anthropic-ratelimit-input-tokens-limit"})
_SECRET_TEXT = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|cnp_live_[A-Za-z0-9_\-]{8,}|(?<=Bearer )[A-Za-z0-9._\-]{16,}"
    r"|AIza[0-9A-Za-z_\-]{20,}|ghp_[A-Za-z0-9]{20,}|xox[abp]-[A-Za-z0-9-]{10,})"
)


def is_secret_header(name: str) -> bool:
    lname = name.lower()
    if lname in _SECRET_HEADERS:
        return True
    if lname.startswith("anthropic-ratelimit-") or lname in _KEEP:
        return False
    return bool(_SECRET_NAME.search(lname))


def redact_headers(headers: Headers) -> Headers:
    return tuple((k, REDACTED if is_secret_header(k) else v) for k, v in headers)


def redact_text(text: str) -> str:
    """Replace API keys, client keys and bearer tokens inside free text."""
    return _SECRET_TEXT.sub(REDACTED, text)
