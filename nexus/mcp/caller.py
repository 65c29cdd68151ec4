"""Who is calling ``/mcp``, and what they may see: the sole owner of the MCP endpoint's access rule.

Team mode (the Host has a credential file): the caller presents that host's client key, exactly as
for ``/v1/*`` (``x-api-key`` or ``Authorization: Bearer``, checked by the proxy's ``Credentials``
in constant time), and sees only that host's traffic (and account's windows). Pass-through (no
file for the Host): only a direct loopback client, as for the read API without a key (no
forwarding headers, a local Host name); when the server has a read-API key
(``DASHBOARD_API_KEY``) it must be presented too, so ``/mcp`` never opens what ``:3001`` keeps shut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from nexus.api.auth import check_access
from nexus.errors import CredentialError, RequestRejected
from nexus.records import RequestFilter


class Identity(Protocol):
    """The part of the proxy's ``Grant`` that says who a request is."""

    @property
    def auth_mode(self) -> str: ...  # "passthrough" | "api_key" | "oauth"

    @property
    def account_id(self) -> str | None: ...

    @property
    def client_key_id(self) -> str | None: ...

    @property
    def credential_key(self) -> str | None: ...


class Gatekeeper(Protocol):
    """``nexus.proxy.credentials.Credentials``, as far as ``/mcp`` uses it."""

    def identify(self, host: str, headers: Mapping[str, str]) -> Identity: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller ``/mcp`` let in. ``host`` None: the local operator in pass-through, who sees all."""

    host: str | None = None
    account_id: str | None = None
    client_key_id: str | None = None

    @property
    def is_team(self) -> bool:
        return self.host is not None

    def scoped(self, flt: RequestFilter) -> RequestFilter:
        """``flt`` narrowed to what this caller may see."""
        if self.host is None:
            return flt
        return dataclasses.replace(flt, host=self.host, account_id=self.account_id)

    def may_see(self, host: str, account_id: str | None) -> bool:
        if self.host is None:
            return True
        return host == self.host and (self.account_id is None or account_id == self.account_id)

    @property
    def windows_account(self) -> str | None:
        """The caller's account as the usage reports name it (None: every account)."""
        if self.host is None:
            return None
        if self.account_id:
            return self.account_id
        return f"key:{self.client_key_id}" if self.client_key_id else f"host:{self.host}"


@dataclass(frozen=True, slots=True)
class Refused:
    status: int  # 400, 401 or 403
    message: str


def identify_caller(
    gatekeeper: Gatekeeper,
    api_key: str | None,
    headers: Mapping[str, str],
    client_host: str | None,
) -> Caller | Refused:
    """Let the request in as a ``Caller`` or say why not. ``headers`` has lower-case names."""
    host = headers.get("host", "")
    try:
        identity = gatekeeper.identify(host, headers)
    except RequestRejected as exc:
        return Refused(400, exc.message)
    except CredentialError as exc:
        hint = "" if "/mcp" in exc.message else " (the same client key as for /v1/*)"
        return Refused(401, exc.message + hint)
    if identity.auth_mode != "passthrough":
        return Caller(identity.credential_key, identity.account_id, identity.client_key_id)
    refusal = check_access(None, headers, client_host)
    if refusal is not None:
        return Refused(
            403,
            f"{host or 'this host'} has no credential file, so /mcp answers only local clients "
            "of this machine; in team mode send the host's client key as "
            "'Authorization: Bearer <key>'",
        )
    if api_key and check_access(api_key, headers, client_host) is not None:
        return Refused(
            401,
            "this Nexus has a read-API key (DASHBOARD_API_KEY): send it as Authorization: Bearer",
        )
    return Caller()
