"""Which request paths go upstream: the sole gate between a client's request target and the URL
Nexus calls with the team's credential.

Only normalised paths under the prefixes Claude Code uses pass: ``/v1/…``, ``/api/event_logging/…``
and the preconnect probes (``HEAD /`` from 2.1.197, ``HEAD /api/hello`` from 2.1.332). The check
runs on the path exactly as the client sent it, before any credential is attached: each segment is
percent-decoded once and must not be empty, ``.`` or ``..``, nor hold ``/``, ``\\``, ``%`` (a second
layer of encoding) or a control character. What passes goes upstream byte for byte (so the
upstream sees the client's own spelling, and nothing can be re-normalised into a traversal on the
way). Everything else is refused with a 400 in Anthropic's shape.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from nexus.errors import RequestRejected

PREFIXES: tuple[tuple[str, ...], ...] = (("v1",), ("api", "event_logging"))
"""Path prefixes (as segments) whose every sub-path is forwarded."""
PRECONNECT: dict[str, frozenset[str]] = {
    "/": frozenset({"HEAD"}),
    "/api/hello": frozenset({"HEAD", "GET"}),
}
"""Exact paths Claude Code probes to warm its connection, with the methods it uses."""
MAX_PATH_CHARS = 2048

# RFC 3986 path characters: unreserved, sub-delims, ':', '@', '/', and %XX escapes.
_RAW_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_BAD_DECODED = re.compile(r"[/\\%\x00-\x1f\x7f]")


def upstream_path(raw_path: str, method: str) -> str:
    """The path to request upstream (``raw_path`` itself), or ``RequestRejected`` (400).

    ``raw_path`` is the request target's path as received, still percent-encoded, without the
    query string.
    """
    if len(raw_path) > MAX_PATH_CHARS or not _RAW_PATH.fullmatch(raw_path):
        raise _refused(raw_path, "it holds characters a normalised path cannot")
    methods = PRECONNECT.get(raw_path)
    if methods is not None:
        if method not in methods:
            raise _refused(raw_path, f"only {', '.join(sorted(methods))} is forwarded there")
        return raw_path
    try:
        segments = [unquote(segment, errors="strict") for segment in raw_path[1:].split("/")]
    except UnicodeDecodeError:
        raise _refused(raw_path, "an escape in it is not UTF-8") from None
    for segment in segments:
        if segment in ("", ".", "..") or _BAD_DECODED.search(segment):
            raise _refused(raw_path, "it is not normalised (empty, dot or encoded segment)")
    if not any(_under(prefix, segments) for prefix in PREFIXES):
        raise _refused(raw_path, "only /v1/ and /api/event_logging/ paths are forwarded")
    return raw_path


def _under(prefix: tuple[str, ...], segments: list[str]) -> bool:
    return len(segments) > len(prefix) and tuple(segments[: len(prefix)]) == prefix


def _refused(raw_path: str, why: str) -> RequestRejected:
    shown = raw_path if len(raw_path) <= 200 else raw_path[:200] + "…"
    return RequestRejected(f"Nexus does not forward the path {shown!r}: {why}.")
