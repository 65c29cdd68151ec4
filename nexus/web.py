"""What both Quart apps (the proxy and the read API) share: an app class whose routing survives
any ``Host`` header.

Werkzeug refuses to bind a request whose Host it cannot IDNA-encode (``..``, ``.``, a label over
63 characters) before any handler or error handler runs, and Quart turns that into a 500 with a
~19 KB traceback per request. Neither app routes on the Host, so such a request is routed under a
placeholder name instead, and the app's own Host rules decide (the proxy refuses and records it
with a 400; the API's access check refuses a non-local Host).
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from werkzeug.exceptions import BadHost
from werkzeug.routing import MapAdapter


class HostTolerantQuart(Quart):
    def create_url_adapter(self, request: Any) -> MapAdapter | None:
        try:
            return super().create_url_adapter(request)
        except BadHost:
            if request is None:
                raise
            return self.url_map.bind(
                "invalid-host",
                url_scheme=request.scheme,
                default_method=request.method,
                path_info=request.path,
                query_args=request.query_string.decode("latin-1"),
            )
