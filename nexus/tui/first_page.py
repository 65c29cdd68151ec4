"""The newest requests, fetched at the launch of ``nexus tui`` while its UI is still importing.

``prefetch_requests`` runs one ``GET /api/requests`` in a thread with the standard library (no
httpx, no event loop, nothing of Textual): the Live screen's first page is then ready when the app
mounts, and the client's first call (which imports httpx, ~0.1 s of CPU) waits until that page is
drawn. Any failure gives None and the screen asks the usual way, which reports what went wrong.
"""

from __future__ import annotations

import concurrent.futures
import threading
from urllib.parse import urlsplit

import orjson

from nexus.client import DEFAULT_TIMEOUT_S, request_headers, request_page
from nexus.records import Page, RequestSummary

FirstPage = concurrent.futures.Future[Page[RequestSummary] | None]


def prefetch_requests(base_url: str, api_key: str | None, limit: int) -> FirstPage:
    """The newest ``limit`` requests, being fetched in a thread. None on any failure, and at once
    for ``https://`` (building a TLS context costs more than the prefetch saves)."""
    future: FirstPage = concurrent.futures.Future()

    def fetch() -> None:
        try:
            future.set_result(_fetch_requests(base_url, api_key, limit))
        except Exception:
            future.set_result(None)

    if urlsplit(base_url).scheme.lower() == "http":
        threading.Thread(target=fetch, name="nexus-first-page", daemon=True).start()
    else:
        future.set_result(None)
    return future


def _fetch_requests(base_url: str, api_key: str | None, limit: int) -> Page[RequestSummary] | None:
    import http.client

    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=DEFAULT_TIMEOUT_S
    )
    try:
        path = f"{parts.path.rstrip('/')}/api/requests?limit={limit}"
        connection.request("GET", path, headers=request_headers(api_key))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return request_page(orjson.loads(body)) if response.status == 200 else None
