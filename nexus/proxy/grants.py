"""Grants: how a request goes upstream, and which client key it presented.

A ``Grant`` is built once per credential file state and client (``team_grants``: the file's shared
``client_api_key`` and each named client of ``nexus.proxy.client_keys``), or once per presented key
in pass-through. ``authenticate`` finds which of a file's keys a request presented, in constant
time. The file cache and token refresh that hand grants out live in ``nexus.proxy.credentials``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from nexus.errors import ClientAuthError
from nexus.proxy import oauth
from nexus.proxy.client_keys import ClientIndex
from nexus.proxy.credential_files import CredentialFile, client_key_id
from nexus.proxy.subjects import LEGACY, subject_for

if TYPE_CHECKING:
    from nexus.limits.subject import Subject

TEAM_DROP = frozenset({"x-api-key", "authorization"})


@dataclass(frozen=True, slots=True)
class Grant:
    """How one request goes upstream. Built once per credential file state and reused."""

    account_id: str | None
    client_key_id: str | None
    auth_mode: str  # "passthrough" | "api_key" | "oauth"
    set_headers: tuple[tuple[str, str], ...] = field(repr=False)  # holds the account's secret
    drop_headers: frozenset[str]
    extra_betas: tuple[str, ...]
    credential_key: str | None = None  # the file this grant came from (None in pass-through)
    subject: Subject | None = None  # who the call counts as under the host's policy (limits)


def team_grants(file: CredentialFile) -> dict[str, Grant]:
    """One grant per client key of the file: the legacy single key's and each named client's."""
    betas: tuple[str, ...] = ()
    if file.kind == "api_key":
        assert file.api_key is not None
        headers = (("x-api-key", file.api_key),)
    else:
        headers, betas = (("authorization", f"Bearer {file.access_token}"),), (oauth.OAUTH_BETA,)

    def grant(key_id: str, subject: Subject | None) -> Grant:
        return Grant(
            account_id=file.account_id,
            client_key_id=key_id,
            auth_mode=file.kind,
            set_headers=headers,
            drop_headers=TEAM_DROP,
            extra_betas=betas,
            credential_key=file.key,
            subject=subject,
        )

    grants = {}
    if file.client_api_key:
        legacy_id = client_key_id(file.client_api_key)
        grants[LEGACY] = grant(
            legacy_id, subject_for(file.key, file.account_id, file.policy, None, legacy_id)
        )
    for client in file.clients:
        subject = subject_for(file.key, file.account_id, file.policy, client, None)
        grants[client.name] = grant(client.record_id(file.key), subject)
    return grants


def authenticate(
    file: CredentialFile | None,
    grants: dict[str, Grant],
    clients: ClientIndex | None,
    headers: Mapping[str, str],
) -> str:
    """The name of the client key presented (``LEGACY`` for the file's single key), or
    ``ClientAuthError``."""
    assert file is not None
    if not grants:
        raise ClientAuthError(
            f"Nexus holds credentials for {file.key} but no client key is set: "
            f"run `nexus auth add-client {file.key} --name NAME` and send that key."
        )
    presented = presented_keys(headers)
    accepted = False
    if file.client_api_key is not None:
        wanted = file.client_api_key.encode("utf-8", "surrogateescape")
        for key in presented:
            # both candidates are always compared so timing does not reveal which header matched
            accepted |= hmac.compare_digest(key.encode("utf-8", "surrogateescape"), wanted)
    if accepted:
        return LEGACY
    client = clients.match(presented) if clients is not None else None
    if client is None:
        raise ClientAuthError()
    return client.name


def presented_keys(headers: Mapping[str, str]) -> tuple[str, ...]:
    api_key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    keys: tuple[str, ...] = (api_key,) if api_key else ()
    if authorization and authorization[:7].lower() == "bearer ":
        keys += (authorization[7:].strip(),)
    return keys


@lru_cache(maxsize=1024)
def _passthrough_for(key_id: str | None) -> Grant:
    return Grant(None, key_id, "passthrough", (), frozenset(), ())


def passthrough_grant(presented: tuple[str, ...]) -> Grant:
    return _passthrough_for(_fingerprint(presented[0]) if presented else None)


@lru_cache(maxsize=1024)
def _fingerprint(key: str) -> str:
    return client_key_id(key)


def bearer_of(grant: Grant) -> str | None:
    for name, value in grant.set_headers:
        if name == "authorization":
            return value.removeprefix("Bearer ")
    return None
