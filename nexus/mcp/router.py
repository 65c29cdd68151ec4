"""``mount(prefix, mounted, main)``: one ASGI app that sends ``prefix`` and what is under it to
``mounted`` and everything else to ``main``, unchanged.

It is the only thing in front of the proxy's Quart app, so its cost is the proxy's cost: one string
comparison per request (the scope's path against the prefix), no allocation, no await of its own.
"""

from __future__ import annotations

from typing import Any


class PrefixRouter:
    def __init__(self, prefix: str, mounted: Any, main: Any) -> None:
        self._prefix = prefix
        self._cut = len(prefix)
        self._mounted = mounted
        self._main = main

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path.startswith(self._prefix) and path[self._cut : self._cut + 1] in ("", "/"):
            await self._mounted(scope, receive, send)
        else:
            await self._main(scope, receive, send)


def mount(prefix: str, mounted: Any, main: Any) -> PrefixRouter:
    return PrefixRouter(prefix, mounted, main)
