"""Who may read the API: the sole owner of the API's access decision.

With ``Settings.api_key`` (``DASHBOARD_API_KEY``) set, every ``/api/*`` call must present it as
``Authorization: Bearer <key>`` or ``X-Dashboard-Key: <key>``; keys are compared in constant time.
Without a key the API is closed to everything but a direct loopback client: a request that came
through a reverse proxy (``Forwarded`` / ``X-Forwarded-For``) or names a non-local ``Host`` (a DNS
rebinding page in a local browser) is refused too, since a local hop does not make it local.

A call that changes state (any method but GET, HEAD, OPTIONS) must also come from no web page but
the API's own origin: a browser names the page's origin in ``Origin`` (and ``Sec-Fetch-Site``) on
every cross-origin POST, and a body must be JSON, which a page cannot send cross-origin without a
CORS preflight that Nexus never grants. So a form or a ``text/plain`` fetch from any site, even to
a loopback API with no key, is refused before it does anything.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

NO_KEY_MESSAGE = (
    "this Nexus API answers only local clients because no API key is set; to allow remote "
    "clients, start the server with DASHBOARD_API_KEY=<secret> (or --api-key) and send "
    "'Authorization: Bearer <secret>' or 'X-Dashboard-Key: <secret>'"
)
BAD_KEY_MESSAGE = (
    "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-Dashboard-Key: <key>' "
    "(the server's DASHBOARD_API_KEY)"
)
_LOCAL_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_ORIGIN_MESSAGE = (
    "this call changes state and came from a web page of another origin; Nexus accepts such calls "
    "only from its own clients (no Origin header, or the API's own origin)"
)
NOT_JSON_MESSAGE = "this call changes state: send its body as JSON (Content-Type: application/json)"


class HeaderLookup(Protocol):
    """Case-insensitive header access (Werkzeug's ``Headers``, or a dict of lower-case names)."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 401 (no or wrong key) or 403 (not a local client)
    error_type: str
    message: str


def check_access(
    api_key: str | None, headers: HeaderLookup, client_host: str | None
) -> Refusal | None:
    """None when the call may proceed, else why not. ``headers`` lookups are case-insensitive."""
    if api_key:
        presented = presented_key(headers)
        if presented is None or not hmac.compare_digest(
            presented.encode("utf-8"), api_key.encode("utf-8")
        ):
            return Refusal(401, "authentication_error", BAD_KEY_MESSAGE)
        return None
    if not is_loopback(client_host) or _was_forwarded(headers) or not _names_local_host(headers):
        return Refusal(403, "permission_error", NO_KEY_MESSAGE)
    return None


def check_state_change(method: str, headers: HeaderLookup, has_body: bool) -> Refusal | None:
    """None when a call may change state (or changes none), else why not (403 or 415)."""
    if method.upper() in _SAFE_METHODS:
        return None
    origin = (headers.get("origin") or "").strip()
    site = (headers.get("sec-fetch-site") or "").strip().lower()
    foreign_origin = bool(origin) and urlsplit(origin).netloc.lower() != (
        (headers.get("host") or "").strip().lower()
    )
    if foreign_origin or site not in ("", "same-origin", "none"):
        return Refusal(403, "permission_error", CROSS_ORIGIN_MESSAGE)
    content_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if has_body and not (content_type == "application/json" or content_type.endswith("+json")):
        return Refusal(415, "invalid_request_error", NOT_JSON_MESSAGE)
    return None


def presented_key(headers: HeaderLookup) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-dashboard-key")
    return key.strip() if key else None


def is_loopback(client_host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. No client (a unix socket) is local."""
    if client_host is None:
        return True
    try:
        addr = ipaddress.ip_address(client_host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _was_forwarded(headers: HeaderLookup) -> bool:
    return any(headers.get(name) for name in _FORWARDING_HEADERS)


def _names_local_host(headers: HeaderLookup) -> bool:
    host = (headers.get("host") or "").strip().lower()
    if not host:
        return True  # HTTP/1.0 clients may omit it; the peer address already said loopback
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in _LOCAL_HOST_NAMES or _is_loopback_literal(name)


def _is_loopback_literal(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False
