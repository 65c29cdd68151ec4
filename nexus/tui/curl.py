"""A recorded request as a ``curl`` command line that sends it again through the same host.

Headers were redacted when recorded, so credentials become shell variables the person fills in
(``$ANTHROPIC_API_KEY``, ``$ANTHROPIC_AUTH_TOKEN``); nothing secret can leak through a copy. The
body is passed byte for byte with ``--data-binary``, quoted for a POSIX shell.
"""

from __future__ import annotations

import shlex

from nexus.records import StoredRequest

_SKIP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
_SECRET_VARS = {"x-api-key": "$ANTHROPIC_API_KEY", "authorization": "Bearer $ANTHROPIC_AUTH_TOKEN"}


def request_url(stored: StoredRequest) -> str:
    s = stored.summary
    host = s.host or "127.0.0.1:3000"
    bare = host.rsplit(":", 1)[0].strip("[]")
    scheme = "http" if bare in ("localhost", "127.0.0.1", "::1") or ":" in host else "https"
    query = f"?{stored.query}" if stored.query else ""
    return f"{scheme}://{host}{s.path}{query}"


def curl_command(stored: StoredRequest) -> str:
    lines = [f"curl -X {stored.summary.method} {shlex.quote(request_url(stored))}"]
    for name, value in stored.request_headers:
        lower = name.lower()
        if lower in _SKIP:
            continue
        if lower in _SECRET_VARS:
            # Double quotes so the shell expands the variable the person exports.
            lines.append(f'-H "{lower}: {_SECRET_VARS[lower]}"')
            continue
        lines.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if stored.request_body:
        body = stored.request_body.decode("utf-8", "replace")
        lines.append(f"--data-binary {shlex.quote(body)}")
    return " \\\n  ".join(lines)
