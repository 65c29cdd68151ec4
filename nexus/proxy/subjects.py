"""Who a team-mode call counts as for the limiter: its host, account and client scopes.

Built once per credential file state and client, beside the grant, so the hot path only reads it.
A scope is counted only where it matters: a named client always (``nexus auth clients`` shows when
each was last used from its counters), the host, the account and the legacy single key only when
the policy limits them.
"""

from __future__ import annotations

from nexus.limits.policy import Limits, Policy
from nexus.limits.subject import Scope, Subject
from nexus.proxy.client_keys import NamedClient

LEGACY = ""
"""The grants key of a file's single ``client_api_key`` (named clients are keyed by name)."""


def subject_for(
    host: str, account_id: str | None, policy: Policy | None, client: NamedClient | None,
    legacy_id: str | None,
) -> Subject | None:  # fmt: skip
    """The limiter's view of a client of ``host``; None when nothing is limited or counted."""
    policy = policy or Policy()
    scopes: list[Scope] = []
    if not policy.host.is_empty:
        scopes.append(Scope(f"host:{host}", f"host {host}", policy.host))
    # a person's window share is their part of the account's cost: count the account then too
    if account_id and (not policy.account.is_empty or policy.has_window_share):
        scopes.append(Scope(f"account:{account_id}", f"account {account_id}", policy.account))
    if client is not None:
        client_id = client.record_id(host)
        scopes.append(Scope(f"client:{client_id}", f"client {client_id}",
                            policy.for_client(client.name)))  # fmt: skip
    elif legacy_id is not None:
        limits = policy.for_client(None)
        if not limits.is_empty:
            scopes.append(Scope(f"client:{legacy_id}", f"client key {legacy_id}", limits))
    if not scopes and policy.runaway is None:
        return None
    account_key = f"account:{account_id}" if account_id else None
    return Subject(tuple(scopes), policy.soft, policy.runaway, host, account_id, account_key)


__all__ = ["LEGACY", "Limits", "subject_for"]
