#!/usr/bin/env python3
"""A stand-in for `claude` that sends one helper no Nexus knows, for `nexus doctor --wire` tests.

Speaks like Claude Code (its headers, billing line and identity, `?beta=true`): a preconnect, one
ordinary turn, then a haiku call with no tools whose prompt matches no known helper. Standard
library only, so it runs under any python3 on PATH.
"""

import http.client
import json
import os
import sys
import urllib.parse

VERSION = "9.9.9"
SYSTEM = [
    {
        "type": "text",
        "text": f"x-anthropic-billing-header: cc_version={VERSION}; cc_entrypoint=sdk-cli;",
    },
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
]
TOOL = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}
UNKNOWN_HELPER = "You rate the mood of the user's last message on a scale from one to five."


def call(conn, method, body=None):
    headers = {
        "Accept": "application/json",
        "X-Stainless-Lang": "js",
        "anthropic-version": "2023-06-01",
        "x-api-key": os.environ["ANTHROPIC_API_KEY"],
        "User-Agent": f"claude-cli/{VERSION} (external, sdk-cli)",
        "x-app": "cli",
        "X-Claude-Code-Session-Id": "3f1e6c1a-0000-4000-8000-00000000a11e",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    }
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    target = "/" if method == "HEAD" else "/v1/messages?beta=true"
    conn.request(method, target, body=data, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def main():
    if sys.argv[1:2] == ["--version"]:
        print(f"{VERSION} (Claude Code)")
        return 0
    url = urllib.parse.urlsplit(os.environ["ANTHROPIC_BASE_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    call(conn, "HEAD")
    user = [{"role": "user", "content": [{"type": "text", "text": "say ok"}]}]
    turn = {
        "model": "claude-opus-4-8",
        "max_tokens": 100,
        "system": SYSTEM,
        "tools": [TOOL],
        "messages": user,
        "stream": False,
    }
    helper = {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "system": SYSTEM + [{"type": "text", "text": UNKNOWN_HELPER}],
        "messages": [{"role": "user", "content": "I love this."}],
        "stream": False,
    }
    statuses = [call(conn, "POST", turn), call(conn, "POST", helper)]
    print(json.dumps({"result": "ok", "statuses": statuses}))
    return 0 if statuses == [200, 200] else 1


if __name__ == "__main__":
    sys.exit(main())
