"""``/mcp`` on the proxy port: the team's prompt library and Nexus's memory of past sessions,
served to Claude Code over MCP (Streamable HTTP, the official ``mcp`` SDK).

``endpoint.McpEndpoint`` is the ASGI app, ``caller.py`` decides who may call it and what they
see, ``tools.py`` holds the read-only tools over the store, ``router.py`` mounts the endpoint
beside the proxy app. Composed in ``nexus.server``; knows nothing of the proxy beyond the
``Gatekeeper`` protocol it is handed.
"""

from __future__ import annotations

from nexus.mcp.caller import Caller
from nexus.mcp.endpoint import McpEndpoint
from nexus.mcp.router import mount
from nexus.mcp.tools import Tools

__all__ = ["Caller", "McpEndpoint", "Tools", "mount"]
