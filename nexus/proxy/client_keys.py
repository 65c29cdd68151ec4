"""Named client keys: one key per person on a team host, stored hashed in the credential file.

Sole owner of the ``clients`` list of a credential file: ``[{"name", "sha256", "id",
"created_at_ms"}]``. Only the SHA-256 of a key is kept (keys are 32 random bytes, so a hash
cannot be reversed or guessed); the key itself is printed once by ``nexus auth add-client --name``.
A presented key is hashed once and looked up by its hash, then the match is confirmed with
``hmac.compare_digest``: a lookup can only reveal whether a key is valid, which the answer says
anyway. A key once confirmed is remembered by a keyed digest (BLAKE2b under a secret drawn at
process start), never as its text: a memory dump shows no client key. A named client's record id is ``name@host``, so records, usage, the API and the TUI show
the person wherever they showed a key id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Any

from nexus.errors import CredentialError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# The confirmed-key memo's digest: keyed per process, copied per call (constructing a keyed
# BLAKE2b costs twice a copy of a ready one)
_MEMO_HASH = hashlib.blake2b(key=os.urandom(32), digest_size=16)


@dataclass(frozen=True, slots=True)
class NamedClient:
    name: str
    sha256: str = ""  # hex digest of the key
    id: str = ""  # ck_ + 12 hex: the key's fingerprint, to tell a reissued key from the old one
    created_at_ms: int | None = None

    def record_id(self, host: str) -> str:
        """The client key id records carry for this person: ``alice@team.example``."""
        return f"{self.name}@{host}"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise CredentialError(f"Invalid client name {name!r}: use {NAME_RULE}.")
    return name


def parse_clients(data: object, host: str) -> tuple[NamedClient, ...]:
    """The ``clients`` list of a credential file; ``CredentialError`` naming the bad entry."""
    if data is None:
        return ()
    where = f"Credential file for {host}: clients"
    if not isinstance(data, list):
        raise CredentialError(f"{where} must be a list.")
    out, seen = [], set()
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise CredentialError(f"{where}[{index}] must be an object.")
        name, digest = entry.get("name"), entry.get("sha256")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise CredentialError(f"{where}[{index}].name must be {NAME_RULE}.")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise CredentialError(f"{where}[{index}].sha256 must be 64 lower-case hex digits.")
        if name in seen:
            raise CredentialError(f"{where}: the name {name!r} is there twice.")
        seen.add(name)
        created = entry.get("created_at_ms")
        out.append(
            NamedClient(
                name,
                digest,
                str(entry.get("id") or ""),
                created if isinstance(created, int) else None,
            )
        )
    return tuple(out)


class ClientIndex:
    """A file's named clients by key hash, built once per file state."""

    def __init__(self, clients: tuple[NamedClient, ...]) -> None:
        # digest → (its bytes as stored, client): decoded once per file state, not per call
        self._by_digest = {(d := bytes.fromhex(c.sha256)): (d, c) for c in clients}
        # keys already confirmed, by their memo digest (``_MEMO_HASH``: never the key's text) →
        # (that digest, their client), so a person's next call skips the SHA-256 look-up. At most
        # one entry per client; it lives and dies with this index, so a revoked key is gone with
        # the file state that had it. A hit is confirmed in constant time, like the index's.
        self._known: dict[bytes, tuple[bytes, NamedClient]] = {}

    def match(self, presented: tuple[str, ...]) -> NamedClient | None:
        found = None
        for key in presented:
            raw = key.encode("utf-8", "surrogateescape")
            memo = _MEMO_HASH.copy()
            memo.update(raw)
            tag = memo.digest()
            known = self._known.get(tag)
            if known is not None and hmac.compare_digest(known[0], tag):
                found = known[1]
                continue
            digest = hashlib.sha256(raw).digest()
            entry = self._by_digest.get(digest)
            if entry is not None and hmac.compare_digest(entry[0], digest):
                found = entry[1]
                if len(self._known) < len(self._by_digest):
                    self._known[tag] = (tag, found)
        return found


def add_client(data: dict[str, Any], name: str, key: str, key_id: str, now_ms: int) -> None:
    """Add a named client to a credential file's JSON (the caller writes it under the lock)."""
    clients = data.get("clients")
    if not isinstance(clients, list):
        clients = []
    if any(isinstance(c, dict) and c.get("name") == name for c in clients):
        raise CredentialError(
            f"A client named {name!r} exists; revoke it first to issue a new key."
        )
    clients.append({"name": name, "id": key_id, "sha256": key_digest(key), "created_at_ms": now_ms})
    data["clients"] = clients


def remove_client(data: dict[str, Any], name: str) -> None:
    clients = data.get("clients")
    kept = (
        [c for c in clients if not (isinstance(c, dict) and c.get("name") == name)]
        if (isinstance(clients, list))
        else []
    )
    if not isinstance(clients, list) or len(kept) == len(clients):
        raise CredentialError(f"No client named {name!r}.")
    data["clients"] = kept
